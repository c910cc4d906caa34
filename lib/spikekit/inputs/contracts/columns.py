"""How a contract declares a table: `Column`, `Contract`, the plausibility ceilings, the header aliases and
the registry `CONTRACTS` every table family adds its contracts to.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...core.errors import ConfigError


DTYPES = ("str", "float", "int", "timestamp")
TIMESTAMP_UNIT = "ns"  # every loaded timestamp column is datetime64[ns, <tz>]

# ----------------------------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class Column:
    """One column of a contract.

    ``required_when=(other, value)`` makes a text column conditional: it must be non-empty on rows where
    column ``other`` equals ``value`` and empty on all other rows (it may then be left out of the file).
    """

    name: str
    dtype: str
    description: str
    required: bool = True
    allowed: tuple[str, ...] | None = None
    non_negative: bool = False
    categorical: bool = False  # output as pandas ``category`` (text columns repeated over many rows)
    required_when: tuple[str, str] | None = None
    # Plausibility bounds of a number column (inclusive; ``exclusive_minimum`` makes the lower one strict).
    # ``non_negative`` alone means minimum 0. ``bound_fix`` is the advice given with a value out of bounds.
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    bound_fix: str | None = None

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ConfigError(f"column {self.name!r}: dtype {self.dtype!r} is not one of {', '.join(DTYPES)}")
        if self.allowed is not None and self.dtype != "str":
            raise ConfigError(f"column {self.name!r}: allowed values only apply to str columns")
        if not self.required and self.dtype != "str":
            # An absent text column reads as ""; numbers and times have no such neutral value.
            raise ConfigError(f"column {self.name!r}: only str columns can be optional")
        bounded = self.minimum is not None or self.maximum is not None or self.exclusive_minimum
        if bounded and self.dtype not in ("float", "int"):
            raise ConfigError(f"column {self.name!r}: bounds only apply to number columns")
        if self.non_negative and self.minimum is None:
            object.__setattr__(self, "minimum", 0.0)
        if self.non_negative and self.minimum < 0:
            raise ConfigError(f"column {self.name!r}: non_negative with a negative minimum")
        if self.exclusive_minimum and self.minimum is None:
            raise ConfigError(f"column {self.name!r}: exclusive_minimum needs a minimum")
        if self.minimum is not None and self.maximum is not None and self.minimum >= self.maximum:
            raise ConfigError(f"column {self.name!r}: minimum {self.minimum} is not below maximum {self.maximum}")

    @property
    def bounded(self) -> bool:
        return self.minimum is not None or self.maximum is not None

    def range_text(self) -> str:
        """The allowed range in words, e.g. 'between 0 and 1', 'above 0 and at most 1,000,000'."""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not self.exclusive_minimum:
            return f"between {_number_text(low)} and {_number_text(high)}"
        parts = []
        if low is not None:
            parts.append(f"{'above' if self.exclusive_minimum else 'at least'} {_number_text(low)}")
        if high is not None:
            parts.append(f"at most {_number_text(high)}")
        return " and ".join(parts)


def _number_text(value: float) -> str:
    """1000000000.0 -> '1,000,000,000'; 0.5 -> '0.5'; 1e308 -> '1e+308' (readable in an error message)."""
    return format(float(value), ",.15g")


# Plausibility ceilings: far above any real shop's numbers, low enough that a slip (a value pasted into the
# wrong column, a unit mix-up, 1e308) cannot pass as data and silently move a decision.
COUNT_MAX = 1e9  # counts in one row: views, visitors, orders, units
UNIT_MONEY_MAX = 1e6  # yuan per unit or per order: prices, unit and handling costs
MONEY_MAX = 1e10  # yuan in total: cash, budgets, credit limits, set-up costs
DAYS_MAX = 365.0  # lead times, delivery days, payment lags
HOURS_MAX = 24 * DAYS_MAX
DISTANCE_KM_MAX = 20_000.0  # half the Earth's circumference
MATERIAL_NEVER_DAY_MAX = 1e6  # suppliers "use a large number if none is coming"
TRENDS_INDEX_MAX = 100.0  # Google Trends scales each chart to 0-100
SHARE_FIX = "write it as a fraction between 0 and 1 (0.05 = 5%)"


@dataclass(frozen=True)
class Contract:
    """A table: its columns, the columns that must be unique together, and what it is for."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ConfigError(f"contract {self.name!r} names a column twice")
        by_name = {c.name: c for c in self.columns}
        for k in self.key:
            if k not in by_name:
                raise ConfigError(f"contract {self.name!r}: key column {k!r} is not a column")
        for c in self.columns:
            if c.required_when and c.required_when[0] not in by_name:
                raise ConfigError(f"contract {self.name!r}: {c.name!r} depends on unknown column")
        object.__setattr__(self, "_by_name", by_name)

    def column(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

CONTRACTS: dict[str, Contract] = {}  # every table's contract by name, filled by the table-family modules in order
# Headers sellers' files and platform exports use for the playbook's columns, known out of the box (matched ignoring
# case and surrounding spaces). An alias is used only when the table's own column name is absent, and two headers of
# one file naming the same column are an error, never a guess. Keyed by column name: the same alias serves every
# table with that column.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("订单编号", "订单号", "主订单编号", "订单ID", "Order ID", "Order Number", "Order No"),
    "timestamp": ("下单时间", "创建时间", "订单创建时间", "订单提交时间", "时间", "日期", "Created at", "Created",
                  "Order Date", "Date", "Time", "Datetime"),
    "buyer_id": ("买家会员名", "买家昵称", "买家ID", "买家", "客户ID", "用户ID", "Customer ID", "Customer", "Buyer",
                 "Buyer ID"),
    "product": ("商品名称", "宝贝标题", "商品标题", "选购商品", "商品", "Lineitem name", "Product", "Product Name",
                "Item Name"),
    "platform": ("平台", "渠道", "销售平台", "Platform", "Channel", "Sales Channel"),
    "variant": ("规格", "商品规格", "颜色分类", "款式", "SKU属性", "Variant", "Variation", "Lineitem variant"),
    "region": ("地区", "区域", "大区", "省份", "收货省份", "Region", "Province", "Shipping Province"),
    "price": ("价格", "单价", "售价", "实付金额", "买家实际支付金额", "成交价", "Price", "Unit Price", "Amount Paid"),
    "promised_ship": ("承诺发货时间", "最晚发货时间", "Promised Ship", "Ship By"),
    "shipped": ("发货时间", "Shipped at", "Fulfilled at", "Shipped"),
    "delivered": ("签收时间", "确认收货时间", "Delivered at", "Delivered"),
    "units": ("数量", "件数", "商品数量", "宝贝总数量", "Quantity", "Qty", "Lineitem quantity", "Units"),
    "orders": ("销量", "销售件数", "成交件数", "Units Sold", "Units sold", "Sold"),
    "visitors": ("访客数", "访客", "Visitors", "Sessions"),
    "source": ("流量来源", "来源", "Traffic Source", "Source"),
    "keyword": ("关键词", "搜索词", "Keyword", "Term", "Search Term"),
    "value": ("数值", "指数", "Value", "Index"),
    "review_id": ("评价ID", "评论ID", "Review ID"),
    "rating": ("评分", "星级", "Rating", "Stars"),
    "text": ("评价内容", "评论内容", "评价", "评论", "内容", "Review", "Review Text", "Comment", "Body"),
}
_ALIAS_LOOKUP: dict[str, str] = {}
for _column, _aliases in HEADER_ALIASES.items():
    for _alias in _aliases:
        _ALIAS_LOOKUP.setdefault(_alias.strip().lower(), _column)
del _column, _aliases, _alias


def _is_known_header(name: str) -> bool:
    """A header that names a playbook column (a table's own name, or an alias of one)."""
    key = str(name).strip().lower()
    return key in _ALIAS_LOOKUP or any(key == c.name for t in CONTRACTS.values() for c in t.columns)


def column_label(column: str | None, headers: dict[str, str]) -> str | None:
    """How an error names a column read under another header: "下单时间 (as timestamp)"."""
    if column in headers:
        return f"{headers[column]} (as {column})"
    return column
