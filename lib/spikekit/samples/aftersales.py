"""Table family of chapters 11-12: orders, returns, tickets, faq, reviews, inspections, members,
member activity (2025-01-15 to 2025-05-15).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import ConfigError

from .shop import DAY, HOUR, SHOPPING_HOURS, SHOPPING_WEEKDAYS, _days, _weekday, _when
from .story import AfterSales, Scenario
from .signals import demand_rate
from .traffic import default_as_of


# --- Chapters 11-12: orders, returns, tickets, faq, reviews, inspections, members, member_activity ----------
# The after-sales period runs to AFTER_END, so a retrospective as of 2025-04-30 12:00 has data. Every table
# draws from its own stream; returns are decided inside make_orders (a buyer's earlier returns feed the
# buyer_prior_returns of their later orders) and handed to make_returns through ``orders.attrs``.

AFTER_START = np.datetime64("2025-01-15T00:00", "m")
AFTER_END = np.datetime64("2025-05-15T23:59", "m")  # last minute covered by the chapter 11-12 tables
RETRO_AS_OF = "2025-04-30 12:00"  # the as_of the retention truth is computed at
SPIKE_PRODUCT = "星空咖啡杯"
# The shop's other products (name, price, orders per day): a small steady stream, so repurchases exist.
OTHER_PRODUCTS = (("经典马克杯", 35.0, 1.6), ("陶瓷杯垫", 19.0, 1.0), ("挂耳咖啡礼盒", 39.0, 1.2),
                  ("手冲咖啡壶", 89.0, 0.5), ("桌面收纳盒", 29.0, 0.7))
ORDER_PLATFORMS = (("淘宝", 0.30), ("抖音", 0.25), ("小红书", 0.20), ("拼多多", 0.10), ("微信", 0.10), ("快手", 0.05))
OTHER_VARIANT = "标准款"
OLD_CUSTOMERS = 900  # buyers known from before the sample window (ids C0001..)
OLD_CUSTOMER_SHARE = 0.45  # share of other-product orders placed by old customers (the rest: new buyers)
SPIKE_OLD_CUSTOMER_SHARE = 0.04  # share of spike-product orders placed by old customers
# Buyer history before the window (old customers only): prior orders 1 + Poisson(2.5), each returned with
# probability 0.12 (binomial). New buyers start with no history.
HISTORY_ORDERS_MEAN = 2.5
HISTORY_RETURN_SHARE = 0.12
# Shipping. The shop ships the spike product first come, first served from units on hand. Units arrive from
# the usual restock (RESTOCK_PER_DAY) and, in a spike, from the scenario's planned purchases (arriving
# evenly from day 3 to their last arrival day after default as_of) and then from follow-up orders (FOLLOW_UP_PER_DAY
# from the last planned arrival day to a week after demand fades). The warehouse packs at most PACK_PER_DAY a day.
RESTOCK_PER_DAY = 12
FOLLOW_UP_PER_DAY = 350
PACK_PER_DAY = 400
PROMISE_DAYS = 3  # promised_ship = 18:00 on the day placed + 3 days
OTHER_SHIP_DAYS = 1  # other products ship the next day
DELIVERY_DAYS = {"华东": 1.0, "华南": 2.0, "华北": 2.0, "华中": 2.0, "西南": 3.0}  # + uniform 0-1 day
# The true return model (logistic): logit p = intercept + delay x days late (shipped - promised_ship, >= 0)
# + variant effect + region effect + prior_rate x buyer_prior_returns / buyer_prior_orders (0 without history).
RETURN_MODEL = {"intercept": -3.0, "delay_days": 0.30, "variant": {"夜幕黑": 0.8}, "region": {"西南": 0.6},
                "prior_return_rate": 2.0}
RETURN_DAYS = (1.0, 7.0)  # requested uniformly 1-7 days after delivery

_DEFECTS = (("杭州星辰陶瓷", 0.010), ("德化白瓷坊", 0.015), ("宜兴陶艺工作室", 0.020), ("潮州瓷都制品", 0.060))
AFTERSALES = {
    "starry-mug": AfterSales(join_rate=0.18, repurchase_rate=0.145, active_rate=0.16, defect_rates=_DEFECTS),
    "false-alarm": AfterSales(join_rate=0.12, repurchase_rate=0.10, active_rate=0.30, defect_rates=_DEFECTS),
    "fast-fade": AfterSales(join_rate=0.10, repurchase_rate=0.08, active_rate=0.18, defect_rates=_DEFECTS),
}
REGULAR_SUPPLIER = "杭州星辰陶瓷"  # the usual restock batches (one inspection round each)
REGULAR_BATCH_UNITS = 360
REGULAR_BATCH_DAYS = ("2025-01-20", "2025-02-18", "2025-03-20", "2025-04-18")
FOLLOW_UP_SUPPLIERS = ("杭州星辰陶瓷", "潮州瓷都制品")  # follow-up orders alternate between these
SPIKE_ROUNDS = 3
# Samples per inspection round by lot size (close to ISO 2859-1 general level II): (largest lot, sample).
INSPECTION_SAMPLES = ((50, 8), (90, 13), (150, 20), (280, 32), (500, 50), (1200, 80), (3200, 125), (10**9, 200))


def _aftersales(scenario: Scenario) -> AfterSales:
    """The scenario's after-sales story: its own (scenarios made on demand) or the built-in sample's."""
    if scenario.aftersales is not None:
        return scenario.aftersales
    if scenario.name not in AFTERSALES:
        raise ConfigError(f"scenario {scenario.name}: no after-sales story. Fix: give Scenario(aftersales=...)")
    return AFTERSALES[scenario.name]


def _minute_text(stamps: np.ndarray) -> list[str]:
    """'YYYY-MM-DD HH:MM:00' (empty string for NaT)."""
    out = []
    for s in np.asarray(stamps, dtype="datetime64[m]"):
        out.append("" if np.isnat(s) else str(s).replace("T", " ") + ":00")
    return out


def _spike_shape(scenario: Scenario, days) -> np.ndarray:
    """0..1: the demand pulse scaled by how big the spike is (420 extra units a day = a full spike)."""
    return scenario.demand.shape(days) * min(1.0, scenario.demand_peak_extra_per_day / 420.0)


def _spike_daily_units(scenario: Scenario, sales: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dates, units, price): sales.csv's days, then Poisson around true demand to AFTER_END at the base price."""
    stamps = pd.to_datetime(sales["timestamp"]).to_numpy().astype("datetime64[D]") - DAY
    units = sales["orders"].to_numpy(dtype=np.int64)
    price = sales["price"].to_numpy(dtype=float)
    extra_days = np.arange(stamps[-1] + DAY, AFTER_END.astype("datetime64[D]") + DAY, DAY)
    mids = _days(extra_days.astype("datetime64[m]")) + 0.5
    extra_units = rng.poisson(demand_rate(scenario, mids) * SHOPPING_WEEKDAYS[_weekday(extra_days)])
    return (np.concatenate([stamps, extra_days]), np.concatenate([units, extra_units]),
            np.concatenate([price, np.full(len(extra_days), scenario.price)]))


def _times_in_days(rng: np.random.Generator, dates: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """One minute stamp per unit: the day's units spread over hours by the shopping profile."""
    days = np.repeat(dates.astype("datetime64[m]"), counts)
    hours = rng.choice(24, size=len(days), p=SHOPPING_HOURS / SHOPPING_HOURS.sum())
    minutes = rng.integers(0, 60, size=len(days))
    return days + hours * HOUR + minutes * np.timedelta64(1, "m")


def _supply_schedule(scenario: Scenario, dates: np.ndarray) -> np.ndarray:
    """Units of the spike product that become available each day (restock + planned + follow-up)."""
    units = np.full(len(dates), RESTOCK_PER_DAY, dtype=float)
    units[0] += scenario.stock_on_hand
    if scenario.planned_purchases:
        order_day = default_as_of(scenario).astype("datetime64[D]")
        last = 0
        for _, n, _, last_day in scenario.planned_purchases:
            span = np.arange(order_day + 3 * DAY, order_day + (max(last_day, 3) + 1) * DAY, DAY)
            units[np.isin(dates, span)] += n / len(span)
            last = max(last, last_day)
        follow_from = order_day + last * DAY
        fade = _when(scenario.demand.fade).astype("datetime64[D]") + 7 * DAY
        units[(dates >= follow_from) & (dates <= fade)] += FOLLOW_UP_PER_DAY
    return units


def _inspection_batches(scenario: Scenario) -> list[tuple[str, str, int, np.datetime64, int]]:
    """(batch_id, supplier, lot_size, arrival, rounds): regular restocks and the spike's purchase batches."""
    batches = [(f"R{i + 1:02d}", REGULAR_SUPPLIER, REGULAR_BATCH_UNITS, _when(day + " 09:00"), 1)
               for i, day in enumerate(REGULAR_BATCH_DAYS)]
    if scenario.planned_purchases:
        order_day = default_as_of(scenario).astype("datetime64[D]").astype("datetime64[m]")
        last = 0
        for i, (supplier, n, _, last_day) in enumerate(scenario.planned_purchases):
            batches.append((f"P{i + 1:02d}", supplier, int(n), order_day + last_day * DAY + 9 * HOUR, SPIKE_ROUNDS))
            last = max(last, last_day)
        fade = _when(scenario.demand.fade).astype("datetime64[D]").astype("datetime64[m]") + 7 * DAY
        day, i = order_day + last * DAY + 9 * HOUR, 0
        while day <= fade:  # follow-up orders: one lot of two days' units every two days
            batches.append((f"F{i + 1:02d}", FOLLOW_UP_SUPPLIERS[i % 2], 2 * FOLLOW_UP_PER_DAY, day, SPIKE_ROUNDS))
            day, i = day + 2 * DAY, i + 1
    return sorted(batches, key=lambda b: b[3])


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def return_probability(delay_days, variant, region, prior_orders, prior_returns) -> np.ndarray:
    """The true return probability of orders (RETURN_MODEL), vectorised."""
    delay = np.maximum(np.asarray(delay_days, dtype=float), 0.0)
    variant_effect = np.array([RETURN_MODEL["variant"].get(v, 0.0) for v in variant])
    region_effect = np.array([RETURN_MODEL["region"].get(r, 0.0) for r in region])
    prior_orders = np.asarray(prior_orders, dtype=float)
    rate = np.divide(np.asarray(prior_returns, dtype=float), prior_orders, out=np.zeros_like(prior_orders),
                     where=prior_orders > 0)
    return _logistic(RETURN_MODEL["intercept"] + RETURN_MODEL["delay_days"] * delay + variant_effect
                     + region_effect + RETURN_MODEL["prior_return_rate"] * rate)


def make_orders(scenario: Scenario, rng: np.random.Generator, sales: pd.DataFrame) -> pd.DataFrame:
    """orders.csv: the spike product's orders (one unit each, sales.csv's daily counts, then true demand to
    AFTER_END), the other products' steady stream, repeat purchases of spike buyers and shipping through a
    first-come-first-served queue. The drawn returns travel in ``attrs["returns"]`` to make_returns."""
    story = _aftersales(scenario)
    dates, units, prices = _spike_daily_units(scenario, sales, rng)
    spike_times = _times_in_days(rng, dates, units)
    spike_price = np.repeat(prices, units)
    designs = list(scenario.design_preference)
    weights = np.array([scenario.design_preference[d] for d in designs])
    spike_variant = rng.choice(designs, size=len(spike_times), p=weights / weights.sum())
    # Other products: Poisson per day and product.
    other = []
    for product, price, per_day in OTHER_PRODUCTS:
        counts = rng.poisson(per_day, size=len(dates))
        times = _times_in_days(rng, dates, counts)
        other.append(pd.DataFrame({"timestamp": times, "product": product, "variant": OTHER_VARIANT, "price": price}))
    other = pd.concat(other, ignore_index=True)
    old_ids = np.array([f"C{i + 1:04d}" for i in range(OLD_CUSTOMERS)])
    new_counter = iter(range(1, 10**7))

    def buyers(n: int, old_share: float) -> np.ndarray:
        old = rng.random(n) < old_share
        out = np.empty(n, dtype=object)
        out[old] = rng.choice(old_ids, size=int(old.sum()))
        out[~old] = [f"B{next(new_counter):05d}" for _ in range(int((~old).sum()))]
        return out

    spike = pd.DataFrame({"timestamp": spike_times, "product": SPIKE_PRODUCT, "variant": spike_variant,
                          "price": spike_price})
    spike = spike.sort_values("timestamp", kind="stable").reset_index(drop=True)
    spike["buyer_id"] = buyers(len(spike), SPIKE_OLD_CUSTOMER_SHARE)
    other = other.sort_values("timestamp", kind="stable").reset_index(drop=True)
    other["buyer_id"] = buyers(len(other), OLD_CUSTOMER_SHARE)
    # Repeat purchases: each buyer's first spike order is followed, with probability repurchase_rate, by an
    # order of another product 1.1-60 days later, and with probability 0.04 by a late one (61-90 days). (Spike-
    # product repurchases would add to sales.csv's daily counts, which orders.csv reproduces exactly.)
    first = spike.drop_duplicates("buyer_id")
    again = rng.random(len(first)) < story.repurchase_rate
    late = (rng.random(len(first)) < 0.04) & ~again
    gap_days = np.where(again, rng.uniform(1.1, 60.0, len(first)), rng.uniform(61.0, 90.0, len(first)))
    pick = again | late
    repeat_times = (first["timestamp"].to_numpy()[pick]
                    + np.round(gap_days[pick] * 24 * 60).astype(np.int64) * np.timedelta64(1, "m"))
    n_repeat = int(pick.sum())
    own = np.zeros(n_repeat, dtype=bool)
    catalogue = rng.integers(0, len(OTHER_PRODUCTS), n_repeat)
    repeat = pd.DataFrame({
        "timestamp": repeat_times,
        "product": np.where(own, SPIKE_PRODUCT, [OTHER_PRODUCTS[i][0] for i in catalogue]),
        "variant": np.where(own, first["variant"].to_numpy()[pick], OTHER_VARIANT),
        "price": np.where(own, scenario.price, [OTHER_PRODUCTS[i][1] for i in catalogue]),
        "buyer_id": first["buyer_id"].to_numpy()[pick],
    })
    repeat = repeat[repeat["timestamp"].to_numpy() <= AFTER_END]
    orders = pd.concat([spike, other, repeat], ignore_index=True)
    orders = orders.sort_values(["timestamp", "product"], kind="stable").reset_index(drop=True)
    n = len(orders)
    names, shares = zip(*ORDER_PLATFORMS)
    orders["platform"] = rng.choice(names, size=n, p=np.array(shares) / sum(shares))
    regions, region_shares = zip(*scenario.regional_shares)
    orders["region"] = rng.choice(regions, size=n, p=np.array(region_shares) / sum(region_shares))
    placed = orders["timestamp"].to_numpy().astype("datetime64[m]")
    placed_day = placed.astype("datetime64[D]")
    orders["promised_ship"] = (placed_day + PROMISE_DAYS * DAY).astype("datetime64[m]") + 18 * HOUR
    # Shipping: the spike product through the queue, other products the next day.
    ship_day = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    is_spike = (orders["product"] == SPIKE_PRODUCT).to_numpy()
    spike_idx = np.flatnonzero(is_spike)
    supply = _supply_schedule(scenario, dates)
    on_hand, queue_at = 0.0, 0
    for d, day in enumerate(dates):
        on_hand += supply[d]
        # Orders placed before 16:00 can leave the same day; later ones wait for the next day.
        cutoff = day.astype("datetime64[m]") + 16 * HOUR
        waiting_end = queue_at + int(np.searchsorted(placed[spike_idx[queue_at:]], cutoff, side="left"))
        can = int(min(on_hand, PACK_PER_DAY, waiting_end - queue_at))
        ship_day[spike_idx[queue_at:queue_at + can]] = day
        queue_at += can
        on_hand -= can
    ship_day[~is_spike] = placed_day[~is_spike] + OTHER_SHIP_DAYS * DAY
    ship_minutes = rng.integers(10 * 60, 20 * 60, n) * np.timedelta64(1, "m")
    shipped = ship_day.astype("datetime64[m]") + ship_minutes
    shipped = np.where(shipped < placed, placed + 30 * np.timedelta64(1, "m"), shipped)
    shipped[shipped > AFTER_END] = np.datetime64("NaT")
    transit = np.array([DELIVERY_DAYS[r] for r in orders["region"]]) + rng.uniform(0.0, 1.0, n)
    delivered = shipped + np.round(transit * 24 * 60).astype(np.int64) * np.timedelta64(1, "m")
    delivered[np.isnat(shipped) | (delivered > AFTER_END)] = np.datetime64("NaT")
    # Buyer history and returns, in time order (a return counts for the buyer's orders placed after it).
    history_orders = {b: 1 + int(k) for b, k in zip(old_ids, rng.poisson(HISTORY_ORDERS_MEAN, len(old_ids)))}
    history_returns = {b: int(rng.binomial(history_orders[b], HISTORY_RETURN_SHARE)) for b in old_ids}
    delay = np.where(np.isnat(shipped), 0.0,
                     (shipped - orders["promised_ship"].to_numpy().astype("datetime64[m]")) / DAY)
    draw = rng.random(n)
    request_after = rng.uniform(*RETURN_DAYS, n)
    prior_orders = np.zeros(n, dtype=np.int64)
    prior_returns = np.zeros(n, dtype=np.int64)
    returned_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[m]")
    seen: dict[str, int] = {}
    returns_of: dict[str, list] = {}
    buyer_ids = orders["buyer_id"].to_numpy()
    variants = orders["variant"].to_numpy()
    regions_arr = orders["region"].to_numpy()
    for i in range(n):
        b = buyer_ids[i]
        prior_orders[i] = history_orders.get(b, 0) + seen.get(b, 0)
        prior_returns[i] = history_returns.get(b, 0) + sum(1 for t in returns_of.get(b, ()) if t < placed[i])
        seen[b] = seen.get(b, 0) + 1
        if np.isnat(delivered[i]):
            continue
        p = return_probability([delay[i]], [variants[i]], [regions_arr[i]], [prior_orders[i]], [prior_returns[i]])[0]
        if draw[i] < p:
            when = delivered[i] + np.int64(round(request_after[i] * 24 * 60)) * np.timedelta64(1, "m")
            if when <= AFTER_END:
                returned_at[i] = when
                returns_of.setdefault(b, []).append(when)
    orders["order_id"] = [f"O{i + 1:06d}" for i in range(n)]
    out = pd.DataFrame({
        "order_id": orders["order_id"],
        "timestamp": _minute_text(placed),
        "buyer_id": orders["buyer_id"].astype(str),
        "product": orders["product"],
        "platform": orders["platform"],
        "variant": orders["variant"],
        "region": orders["region"],
        "price": orders["price"].astype(float),
        "promised_ship": _minute_text(orders["promised_ship"].to_numpy()),
        "shipped": _minute_text(shipped),
        "delivered": _minute_text(delivered),
        "buyer_prior_orders": prior_orders,
        "buyer_prior_returns": prior_returns,
    })
    out.attrs["returns"] = pd.DataFrame({"order_id": out["order_id"], "returned_at": returned_at,
                                         "delay_days": delay, "variant": variants, "region": regions_arr})
    return out


def make_returns(scenario: Scenario, rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """returns.csv: the returns make_orders drew from RETURN_MODEL, with a reason that follows the driver:
    late orders mostly 'delay', 夜幕黑 mostly 'not_as_described', 西南 more 'damaged'."""
    drawn = orders.attrs.get("returns")
    if drawn is None:
        raise ConfigError("make_returns needs the orders frame made by make_orders in the same run")
    drawn = drawn[~np.isnat(drawn["returned_at"].to_numpy())].reset_index(drop=True)
    reasons = ("quality", "delay", "not_as_described", "changed_mind", "damaged")
    picked = []
    for delay, variant, region in zip(drawn["delay_days"], drawn["variant"], drawn["region"]):
        w = np.array([0.30, 0.05, 0.15, 0.35, 0.15])
        if delay > 1:
            w[1] += 1.5
        if variant in RETURN_MODEL["variant"]:
            w[2] += 0.8
        if region in RETURN_MODEL["region"]:
            w[4] += 0.5
        picked.append(reasons[int(rng.choice(5, p=w / w.sum()))])
    out = pd.DataFrame({"order_id": drawn["order_id"], "timestamp": _minute_text(drawn["returned_at"].to_numpy()),
                        "reason": picked})
    return out.sort_values(["timestamp", "order_id"], kind="stable").reset_index(drop=True)

# The shop's knowledge base: (faq_id, type, question, answer).
FAQ_ENTRIES = (
    ("F01", "delay", "现在下单多久发货？", "现货48小时内发货；预售款按页面标注的最晚日期发货，发货后会推送物流单号。"),
    ("F02", "delay", "我的订单为什么还没发货？", "爆款期间订单多，仓库按下单顺序发货；订单页可看预计发货日，超过承诺时间我们会主动联系并补偿。"),
    ("F03", "delay", "怎么查看物流信息？", "发货后在订单详情点“查看物流”，物流信息每4小时更新一次。"),
    ("F04", "delay", "快递几天能到？", "江浙沪一般1-2天，其他地区2-4天，偏远地区稍慢。"),
    ("F05", "pre_sale", "可以开发票吗？", "可以，下单时填写发票抬头和税号，或收货后在订单页申请电子发票。"),
    ("F06", "pre_sale", "杯子容量多大？", "星空咖啡杯容量约350毫升，杯高10厘米，口径8.5厘米。"),
    ("F07", "pre_sale", "可以放洗碗机和微波炉吗？", "可以放洗碗机；星空釉面含金属光泽，不建议放微波炉。"),
    ("F08", "pre_sale", "有哪些颜色可选？", "有星空蓝、银河紫、极光绿、晨曦粉、夜幕黑五款，实物与图片可能略有色差。"),
    ("F09", "pre_sale", "可以礼盒包装吗？", "可以，下单时选“礼盒装”，加5元，可附手写贺卡。"),
    ("F10", "pre_sale", "买两个有优惠吗？", "两件及以上享9折，活动期间以页面价格为准。"),
    ("F11", "pre_sale", "是预售还是现货？", "页面标“预售”的是预售款，写明了最晚发货日期；其余为现货。"),
    ("F12", "address", "下单后怎么修改收货地址？", "未发货前可在订单页自己修改地址；已发货请联系客服协助改派。"),
    ("F13", "address", "可以改寄到公司或者驿站吗？", "可以，未发货前改地址即可；暂不支持到付。"),
    ("F14", "return", "怎么申请退货？", "收货7天内在订单页点“申请售后”选择退货，寄回时请保留原包装。"),
    ("F15", "return", "退货运费谁出？", "质量问题和破损由我们承担运费；无理由退货运费由买家承担，有运费险的自动理赔。"),
    ("F16", "return", "退款多久到账？", "收到退货后24小时内退款，原路返回，一般1-3个工作日到账。"),
    ("F17", "quality", "收到的杯子破了怎么办？", "请拍照或视频（含外包装）发给客服，我们免费补发或退款。"),
    ("F18", "quality", "杯子有色差或小瑕疵正常吗？", "手工釉面会有轻微色差和小气泡，不影响使用；明显裂纹或掉釉请联系客服处理。"),
    ("F19", "other", "杯子怎么清洗保养？", "首次使用前用温水清洗，不要用钢丝球，星空釉面用软布擦干即可。"),
    ("F20", "other", "可以定制刻字吗？", "支持杯底刻字，最多8个字，定制款需要多3天制作时间。"),
    ("F21", "other", "有会员群或者售后群吗？", "有的，订单页扫码即可加入会员群，群里有新品预告和专属优惠。"),
)
ROUTINE_TICKET_TYPES = ("delay", "pre_sale", "address", "other")  # eligible for answers from the FAQ

# Customer messages per ticket type: (text, the FAQ entry that answers it or None). Each ticket takes one and
# gets small edits (greeting, ending, a synonym), so matching is not an exact lookup.
TICKET_TEXTS = {
    "delay": (
        ("我的杯子什么时候发货？", "F02"), ("下单三天了还没发货，怎么回事", "F02"), ("为什么我的订单一直显示待发货", "F02"),
        ("说好48小时发货的，现在还没动静", "F02"), ("到底什么时候能发货啊", "F02"), ("现在下单大概多久能发？", "F01"),
        ("预售的什么时候发出", "F01"), ("今天拍的明天能发吗", "F01"), ("物流怎么一直不更新", "F03"),
        ("在哪里看快递到哪了", "F03"), ("单号查不到物流信息", "F03"), ("寄到北京要几天", "F04"),
        ("快递一般几天能到广东", "F04"), ("能不能加急发货，周末要送人", None), ("等太久了，可以先发其他颜色吗", None),
        ("快递员说地址找不到，东西退回去了", None), ("显示已签收但我没收到", None), ("别家都发货了你们怎么还没发", "F02"),
    ),
    "quality": (
        ("收到杯子有裂纹", "F17"), ("杯子碎了，外包装也压扁了", "F17"), ("打开发现杯口有个缺口", "F17"),
        ("杯把断了", "F17"), ("杯子颜色和图片差好多", "F18"), ("釉面有好几个小气泡正常吗", "F18"),
        ("星空的亮片很少，跟视频里不一样", "F18"), ("杯底有黑点", "F18"), ("杯子掉釉了，用了两次", None),
        ("倒热水后杯身有细纹", None), ("杯子有很重的味道", None), ("盖子盖不严", None), ("杯垫尺寸不对", None),
        ("收到的是晨曦粉，我买的是星空蓝", None), ("少发了一个杯子", None), ("底部不平，放桌上会晃", None),
    ),
    "return": (
        ("怎么退货", "F14"), ("不想要了可以退吗", "F14"), ("我要申请退货退款", "F14"), ("七天无理由怎么操作", "F14"),
        ("退货的运费谁出", "F15"), ("破损退货要我自己付运费吗", "F15"), ("有运费险吗", "F15"), ("退款什么时候到账", "F16"),
        ("退货寄回去好几天了还没退款", "F16"), ("退款退到哪里", "F16"), ("可以换个颜色吗", None),
        ("包装丢了还能退吗", None), ("已经用过一次了能退吗", None), ("退货地址是哪里", None), ("买贵了能退差价吗", None),
        ("送人的不喜欢，能换成别的款吗", None),
    ),
    "pre_sale": (
        ("可以开发票吗", "F05"), ("能开公司抬头的专票吗", "F05"), ("发票怎么开", "F05"), ("杯子容量多大", "F06"),
        ("能装多少毫升", "F06"), ("杯子有多高", "F06"), ("可以放洗碗机吗", "F07"), ("能放微波炉加热吗", "F07"),
        ("有哪些颜色", "F08"), ("夜幕黑实物是什么样的，会很暗吗", "F08"), ("可以包装成礼物吗", "F09"),
        ("有礼盒吗，想送同事", "F09"), ("买两个有优惠吗", "F10"), ("多买能便宜点吗", "F10"), ("现在是现货还是预售", "F11"),
        ("能不能便宜一点", None), ("你们从哪里发货", None), ("和别家的星空杯有什么区别", None), ("是陶瓷的还是玻璃的", None),
        ("杯子重不重", None),
    ),
    "address": (
        ("地址写错了怎么改", "F12"), ("下单后还能改地址吗", "F12"), ("帮我改一下收货地址", "F12"), ("电话号码填错了", "F12"),
        ("可以寄到公司吗", "F13"), ("能寄到菜鸟驿站吗", "F13"), ("能改成到付吗", "F13"), ("收件人名字写错了怎么办", "F12"),
        ("已经发货了还能改地址吗", "F12"), ("能不能寄到香港", None), ("可以分两个地址寄吗", None),
        ("我搬家了，原地址没人收", "F12"), ("能不能指定顺丰", None), ("周末家里没人，能周一再送吗", None),
        ("门牌号漏写了", "F12"),
    ),
    "other": (
        ("杯子怎么清洗", "F19"), ("第一次用需要煮一下吗", "F19"), ("星空面怎么保养不掉色", "F19"), ("可以刻字吗", "F20"),
        ("能定制名字吗", "F20"), ("杯底能刻日期吗", "F20"), ("有会员群吗", "F21"), ("怎么加你们的粉丝群", "F21"),
        ("有售后群吗", "F21"), ("你们招代理吗", None), ("可以合作拍视频吗", None), ("下次上新是什么时候", None),
        ("积分怎么用", None), ("直播间的优惠券领不到", None), ("店铺有实体店吗", None),
    ),
}
TICKET_GREETINGS = ("", "", "", "你好，", "您好，", "亲，", "在吗？", "客服你好，", "hello，", "麻烦问下，")
TICKET_ENDINGS = ("", "", "", "谢谢", "谢谢！", "急", "？", "，麻烦尽快回复", "～", "！！")
TICKET_SYNONYMS = (("杯子", ("杯子", "星空杯", "咖啡杯", "马克杯")), ("怎么", ("怎么", "咋", "如何")),
                   ("什么时候", ("什么时候", "啥时候", "几时")))
# Tickets per day before the spike and the multiple at a full spike's peak (handbook: +300% delay complaints),
# and how many days after the demand peak each type's surge peaks.
TICKET_BASELINE = {"delay": 2.5, "quality": 0.8, "return": 1.0, "pre_sale": 4.0, "address": 0.6, "other": 0.8}
TICKET_PEAK_MULTIPLE = {"delay": 4.0, "quality": 3.0, "return": 2.5, "pre_sale": 3.5, "address": 2.5, "other": 2.0}
TICKET_LAG_DAYS = {"delay": 2.0, "quality": 4.0, "return": 5.0, "pre_sale": 0.0, "address": 0.5, "other": 0.0}
RESPONSE_MEDIAN_HOURS = 1.0  # lognormal, sigma 0.5, answered from 09:00 to 22:00
SLOW_RESPONSE_SHARE_AT_PEAK = 0.6  # share of tickets waiting 6-30 h at the peak of the surge
SLOW_RESPONSE_HOURS = (6.0, 30.0)
RESOLVE_MEDIAN_HOURS = 5.0  # after the first response; lognormal, sigma 0.8


def _ticket_text(rng: np.random.Generator, text: str) -> str:
    for word, options in TICKET_SYNONYMS:
        if word in text and rng.random() < 0.4:
            text = text.replace(word, options[int(rng.integers(len(options)))], 1)
    text = text.rstrip("？?")
    ending = TICKET_ENDINGS[int(rng.integers(len(TICKET_ENDINGS)))]
    if "？" in ending or not ending:
        ending = ending or ("？" if rng.random() < 0.6 else "")
    return TICKET_GREETINGS[int(rng.integers(len(TICKET_GREETINGS)))] + text + ending


def ticket_rates(scenario: Scenario, days) -> dict[str, np.ndarray]:
    """Expected tickets per day of each type at times given in days since DATA_START."""
    return {kind: TICKET_BASELINE[kind] * (1 + (TICKET_PEAK_MULTIPLE[kind] - 1)
                                           * _spike_shape(scenario, np.asarray(days) - TICKET_LAG_DAYS[kind]))
            for kind in TICKET_BASELINE}


def _service_start(stamps: np.ndarray) -> np.ndarray:
    """Tickets opened at night wait for the service desk to open at 09:00 (it closes at 22:00)."""
    day = stamps.astype("datetime64[D]").astype("datetime64[m]")
    hour = (stamps - day) / HOUR
    return np.where(hour < 9, day + 9 * HOUR, np.where(hour >= 22, day + DAY + 9 * HOUR, stamps))


def make_faq(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """faq.csv: the shop's knowledge base (FAQ_ENTRIES), the same in every scenario."""
    return pd.DataFrame(FAQ_ENTRIES, columns=["faq_id", "type", "question", "answer"])


def make_tickets(scenario: Scenario, rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """tickets.csv: Poisson tickets per hour and type at `ticket_rates` x the shopping hour profile; paid types
    point at a fitting order (delay: one not yet shipped if any; quality and return: one delivered);
    first responses slow down for a share of tickets as the surge peaks."""
    hours = np.arange(AFTER_START, AFTER_END, HOUR)
    mids = _days(hours) + 0.5 / 24
    profile = SHOPPING_HOURS[(hours - hours.astype("datetime64[D]")) // HOUR]
    rates = ticket_rates(scenario, mids)
    placed = pd.to_datetime(orders["timestamp"]).to_numpy().astype("datetime64[m]")
    shipped = pd.to_datetime(orders["shipped"].replace("", None)).to_numpy().astype("datetime64[m]")
    delivered = pd.to_datetime(orders["delivered"].replace("", None)).to_numpy().astype("datetime64[m]")
    order_ids = orders["order_id"].to_numpy()
    rows = []
    for kind in TICKET_BASELINE:
        counts = rng.poisson(rates[kind] / 24 * profile)
        stamps = np.repeat(hours, counts) + rng.integers(0, 60, int(counts.sum())) * np.timedelta64(1, "m")
        for stamp in stamps:
            text, faq = TICKET_TEXTS[kind][int(rng.integers(len(TICKET_TEXTS[kind])))]
            paid = kind in ("delay", "quality", "return", "address") or (kind == "other" and rng.random() < 0.5)
            order_id = ""
            if paid:
                recent = (placed < stamp) & (placed > stamp - 14 * DAY)
                if kind == "delay":
                    fitting = recent & ((np.isnat(shipped)) | (shipped > stamp))
                elif kind in ("quality", "return"):
                    fitting = recent & ~np.isnat(delivered) & (delivered < stamp)
                else:
                    fitting = recent
                pool = np.flatnonzero(fitting if fitting.any() else (placed < stamp))
                if len(pool):
                    order_id = str(order_ids[pool[int(rng.integers(len(pool)))]])
            rows.append((stamp, order_id, "paid" if order_id else "pre_sale", kind, _ticket_text(rng, text), faq))
    rows.sort(key=lambda r: (r[0], r[3]))
    stamps = np.array([r[0] for r in rows], dtype="datetime64[m]")
    n = len(rows)
    surge = _spike_shape(scenario, _days(stamps) - 1.0)
    slow = rng.random(n) < SLOW_RESPONSE_SHARE_AT_PEAK * surge  # surge is 1 at a full spike's peak
    wait_hours = np.where(slow, rng.uniform(*SLOW_RESPONSE_HOURS, n),
                          RESPONSE_MEDIAN_HOURS * np.exp(0.5 * rng.standard_normal(n)))
    start = np.where(slow, stamps, _service_start(stamps))
    first_response = start + np.round(wait_hours * 60).astype(np.int64) * np.timedelta64(1, "m")
    resolved = first_response + np.round(RESOLVE_MEDIAN_HOURS * np.exp(0.8 * rng.standard_normal(n)) * 60
                                         ).astype(np.int64) * np.timedelta64(1, "m")
    first_response[first_response > AFTER_END] = np.datetime64("NaT")
    resolved[np.isnat(first_response) | (resolved > AFTER_END)] = np.datetime64("NaT")
    out = pd.DataFrame({
        "ticket_id": [f"T{i + 1:05d}" for i in range(n)],
        "timestamp": _minute_text(stamps),
        "order_id": [r[1] for r in rows],
        "customer_kind": [r[2] for r in rows],
        "type": [r[3] for r in rows],
        "text": [r[4] for r in rows],
        "first_response": _minute_text(first_response),
        "resolved": _minute_text(resolved),
    })
    out.attrs["faq_id"] = [r[5] for r in rows]  # the FAQ entry that answers each ticket (None: none does)
    return out


# Reviews: (text, label, language). Ratings follow the label: positive 4-5, neutral 3, negative 1-2.
REVIEW_TEXTS = {
    ("positive", "zh"): ("杯子很好看，星空的感觉很梦幻", "颜值超高，办公室同事都问链接", "质量不错，釉面很细腻",
                         "包装很用心，一点没磕碰", "用来喝咖啡很有仪式感，喜欢", "比图片还好看，已经回购送朋友了",
                         "容量刚好，拿着手感很舒服", "发货快，杯子很漂亮", "送女朋友的，她很喜欢", "颜色很正，星空蓝绝了"),
    ("neutral", "zh"): ("杯子还行，就是比想象中小一点", "好看是好看，就是发货有点慢", "一般般吧，颜色有点偏差",
                        "杯子不错，包装简陋了点", "还可以，等了好几天才到", "东西挺好，客服回复太慢"),
    ("negative", "zh"): ("等了一个多星期才发货，太慢了", "收到就是裂的，很失望", "颜色和图片完全不一样",
                         "催了好几次都不发货，客服也不回", "杯口有缺口，差评", "物流慢，杯子还有瑕疵，不推荐",
                         "说好48小时发货，结果拖了五天", "掉漆了，用了两次就这样"),
    ("positive", "en"): ("Beautiful mug, the starry glaze looks amazing.", "Love it, my coffee break feels special now.",
                         "Great quality and well packed.", "Even prettier than the photos!", "Perfect gift, she loved it."),
    ("neutral", "en"): ("Nice mug but smaller than I expected.", "Looks good, shipping took a while though.",
                        "It's okay, colour is a bit different from the pictures."),
    ("negative", "en"): ("Took forever to ship, very disappointed.", "Arrived cracked. Not happy.",
                         "Colour is nothing like the photos.", "Waited over a week and support never replied."),
}
REVIEW_SHARE = {"spike": 0.06, "other": 0.03}  # share of delivered orders reviewed
REVIEW_UNLINKED_PER_DAY = 0.3  # reviews on the platform without an order link
REVIEW_ENGLISH_SHARE = 0.25
REVIEW_NEGATIVE_BASE = 0.06  # P(negative) = base + per day late x delay days (max 0.6), + 0.3 if returned
REVIEW_NEGATIVE_PER_DAY_LATE = 0.08
REVIEW_NEUTRAL = 0.15


def make_reviews(scenario: Scenario, rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """reviews.csv: some delivered orders are reviewed 0.3-5 days after delivery; the chance of a negative review
    rises with the order's delay (and its return); a few reviews carry no order link."""
    delivered = pd.to_datetime(orders["delivered"].replace("", None)).to_numpy().astype("datetime64[m]")
    shipped = pd.to_datetime(orders["shipped"].replace("", None)).to_numpy().astype("datetime64[m]")
    promised = pd.to_datetime(orders["promised_ship"]).to_numpy().astype("datetime64[m]")
    delay = np.where(np.isnat(shipped), 0.0, np.maximum((shipped - promised) / DAY, 0.0))
    returned = np.zeros(len(orders), dtype=bool)
    drawn = orders.attrs.get("returns")
    if drawn is not None:
        returned = ~np.isnat(drawn["returned_at"].to_numpy())
    is_spike = (orders["product"] == SPIKE_PRODUCT).to_numpy()
    share = np.where(is_spike, REVIEW_SHARE["spike"], REVIEW_SHARE["other"])
    picked = np.flatnonzero(~np.isnat(delivered) & (rng.random(len(orders)) < share))
    when = delivered[picked] + np.round(rng.uniform(0.3, 5.0, len(picked)) * 24 * 60).astype(np.int64) * np.timedelta64(1, "m")
    p_negative = np.minimum(REVIEW_NEGATIVE_BASE + REVIEW_NEGATIVE_PER_DAY_LATE * delay[picked], 0.6) + 0.3 * returned[picked]
    # Unlinked reviews: a steady trickle with the base negative share.
    days = np.arange(AFTER_START, AFTER_END, DAY)
    per_day = rng.poisson(REVIEW_UNLINKED_PER_DAY, len(days))
    unlinked = np.repeat(days, per_day) + rng.integers(8 * 60, 23 * 60, int(per_day.sum())) * np.timedelta64(1, "m")
    when = np.concatenate([when, unlinked])
    p_negative = np.concatenate([p_negative, np.full(len(unlinked), REVIEW_NEGATIVE_BASE)])
    order_id = np.concatenate([orders["order_id"].to_numpy()[picked], np.full(len(unlinked), "", dtype=object)])
    platform = np.concatenate([orders["platform"].to_numpy()[picked],
                               rng.choice([p for p, _ in ORDER_PLATFORMS], len(unlinked))])
    keep = when <= AFTER_END
    when, p_negative, order_id, platform = when[keep], p_negative[keep], order_id[keep], platform[keep]
    u = rng.random(len(when))
    label = np.where(u < p_negative, "negative", np.where(u < p_negative + REVIEW_NEUTRAL, "neutral", "positive"))
    language = np.where(rng.random(len(when)) < REVIEW_ENGLISH_SHARE, "en", "zh")
    texts = [REVIEW_TEXTS[(lab, lang)][int(rng.integers(len(REVIEW_TEXTS[(lab, lang)])))] for lab, lang in zip(label, language)]
    rating = np.where(label == "positive", rng.choice([4, 5], len(when), p=[0.3, 0.7]),
                      np.where(label == "neutral", 3, rng.choice([1, 2], len(when), p=[0.6, 0.4])))
    rating_text = [str(r) if rng.random() > 0.05 else "" for r in rating]  # a few reviews carry no star rating
    order = np.argsort(when, kind="stable")
    out = pd.DataFrame({
        "review_id": "",
        "timestamp": np.array(_minute_text(when), dtype=object)[order],
        "platform": platform[order],
        "order_id": order_id[order],
        "rating": np.array(rating_text, dtype=object)[order],
        "text": np.array(texts, dtype=object)[order],
    })
    out["review_id"] = [f"V{i + 1:05d}" for i in range(len(out))]
    out.attrs["labels"] = label[order]
    return out


def make_inspections(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """inspections.csv: each batch (`_inspection_batches`) inspected in 1 round (regular restocks) or 3 rounds
    (the spike's purchase batches) 2 h, 6 h and 24 h after arrival; defects are binomial at the supplier's
    true defect rate (AfterSales.defect_rates)."""
    rates = dict(_aftersales(scenario).defect_rates)
    rows = []
    for batch_id, supplier, lot, arrival, rounds in _inspection_batches(scenario):
        sample = next(n for top, n in INSPECTION_SAMPLES if lot <= top)
        inspected = min(sample, lot)
        for r in range(rounds):
            rows.append((batch_id, supplier, arrival + (2, 6, 24)[r] * HOUR, lot, r + 1, inspected,
                         int(rng.binomial(inspected, rates[supplier]))))
    frame = pd.DataFrame(rows, columns=["batch_id", "supplier", "timestamp", "lot_size", "round", "inspected", "defects"])
    frame["timestamp"] = _minute_text(frame["timestamp"].to_numpy())
    return frame


MEMBER_JOIN_MEAN_DAYS = 4.0  # exponential wait from the first order to joining (cut at 29.5 days)
MEMBER_LATE_JOIN_SHARE = 0.02  # spike buyers joining 31-80 days after the first order
MEMBER_OTHER_JOIN_SHARE = 0.08  # other buyers joining after their first order
MEMBER_OLD_SHARE = 0.25  # old customers in the community from the window's start
ACTIVE_FIRST_WEEK_PER_DAY = 0.35
ACTIVE_LATER_PER_DAY = 0.12  # members who stay active
INACTIVE_LATER_PER_DAY = 0.002


def make_members(scenario: Scenario, rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """members.csv: spike buyers join the community with probability join_rate within 30 days of their first
    spike order (a few later); other buyers at MEMBER_OTHER_JOIN_SHARE; a quarter of old customers are members
    from the window's start."""
    story = _aftersales(scenario)
    placed = pd.to_datetime(orders["timestamp"]).to_numpy().astype("datetime64[m]")
    frame = pd.DataFrame({"buyer_id": orders["buyer_id"].to_numpy(), "placed": placed,
                          "spike": (orders["product"] == SPIKE_PRODUCT).to_numpy()})
    joined: dict[str, np.datetime64] = {}
    old = np.array([f"C{i + 1:04d}" for i in range(OLD_CUSTOMERS)])
    old_members = old[rng.random(len(old)) < MEMBER_OLD_SHARE]
    for b, offset in zip(old_members, rng.integers(0, 45 * 24 * 60, len(old_members))):
        joined[str(b)] = AFTER_START + offset * np.timedelta64(1, "m")
    spike_first = frame[frame["spike"]].drop_duplicates("buyer_id")
    u, wait = rng.random(len(spike_first)), np.minimum(rng.exponential(MEMBER_JOIN_MEAN_DAYS, len(spike_first)), 29.5)
    late = rng.uniform(31.0, 80.0, len(spike_first))
    for b, t, ui, w, lt in zip(spike_first["buyer_id"], spike_first["placed"], u, wait, late):
        if b in joined:
            continue
        days = w if ui < story.join_rate else (lt if ui < story.join_rate + MEMBER_LATE_JOIN_SHARE else None)
        if days is not None:
            joined[b] = t + np.int64(round(days * 24 * 60)) * np.timedelta64(1, "m")
    other_first = frame[~frame["spike"]].drop_duplicates("buyer_id")
    u, wait = rng.random(len(other_first)), rng.exponential(MEMBER_JOIN_MEAN_DAYS, len(other_first))
    for b, t, ui, w in zip(other_first["buyer_id"], other_first["placed"], u, wait):
        if b not in joined and ui < MEMBER_OTHER_JOIN_SHARE:
            joined[b] = t + np.int64(round(w * 24 * 60)) * np.timedelta64(1, "m")
    members = sorted((t, b) for b, t in joined.items() if t <= AFTER_END)
    return pd.DataFrame({"buyer_id": [b for _, b in members],
                         "timestamp": _minute_text(np.array([t for t, _ in members], dtype="datetime64[m]"))})


def make_member_activity(scenario: Scenario, rng: np.random.Generator, members: pd.DataFrame) -> pd.DataFrame:
    """member_activity.csv: one row per member and day active (stamped at the end of the day). Active on each
    day of the first week with probability ACTIVE_FIRST_WEEK_PER_DAY; after it, members who stay active
    (active_rate) at ACTIVE_LATER_PER_DAY, the rest at INACTIVE_LATER_PER_DAY; 1 + Poisson(1.5) actions."""
    story = _aftersales(scenario)
    last_day = AFTER_END.astype("datetime64[D]")
    rows = []
    joined = pd.to_datetime(members["timestamp"]).to_numpy().astype("datetime64[m]")
    stays = rng.random(len(members)) < story.active_rate
    for b, t, stay in zip(members["buyer_id"], joined, stays):
        days = np.arange(t.astype("datetime64[D]"), last_day + DAY, DAY)
        since = (days - t.astype("datetime64[D]")) / DAY
        p = np.where(since < 7, ACTIVE_FIRST_WEEK_PER_DAY, ACTIVE_LATER_PER_DAY if stay else INACTIVE_LATER_PER_DAY)
        active = days[rng.random(len(days)) < p]
        for day, actions in zip(active, 1 + rng.poisson(1.5, len(active))):
            rows.append((b, (day + DAY).astype("datetime64[m]"), int(actions)))
    rows.sort(key=lambda r: (r[1], r[0]))
    return pd.DataFrame({"buyer_id": [r[0] for r in rows],
                         "timestamp": _minute_text(np.array([r[1] for r in rows], dtype="datetime64[m]")),
                         "actions": np.array([r[2] for r in rows], dtype=np.int64)})
