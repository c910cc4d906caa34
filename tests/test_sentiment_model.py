"""The shipped Chinese n-gram sentiment model: weights file, stable hashing, hard hand-written cases, and
English left as it was."""
import hashlib
import importlib.util
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from spikekit.core import sentiment
from spikekit.core.errors import ConfigError

# sha256 of lib/spikekit/core/sentiment_zh.npz as built by benchmarks/train_sentiment.py; a retrain changes it
# on purpose (update it together with benchmarks/results/sentiment.md).
WEIGHTS_SHA256 = "69bdd0f404bfccb6d621ac6ede18935123a782ca663085912a0e0060f92e7e3c"
N_BUCKETS = 2 ** 20

# Written for these tests (not taken from any data set): plain product and delivery reviews that the
# previous scorer (SnowNLP + domain lexicon) labels the wrong way round.
HARD_CASES = [
    ("没有色差，和图片一模一样", "positive"),
    ("老板人很实在，还多送了一瓶饮料", "positive"),
    ("配送员冒雨送来，辛苦了", "positive"),
    ("盒子压扁了，蛋糕也塌了", "negative"),
]


def test_weights_file_shape_and_hash():
    path = resources.files("spikekit.core") / sentiment.ZH_MODEL_FILE
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == WEIGHTS_SHA256
    assert len(data) <= 20 * 1024 * 1024
    with resources.as_file(path) as real, np.load(real) as npz:
        assert npz["weights"].dtype == np.float16
        assert npz["weights"].shape == (N_BUCKETS,)
        assert int(npz["n_buckets"]) == N_BUCKETS
        assert int(npz["ngram_max"]) in (3, 4)
        assert np.isfinite(npz["weights"].astype(np.float32)).all()
    model = sentiment.zh_model()
    assert model["weights"].shape == (N_BUCKETS,) and model["n_buckets"] == N_BUCKETS


def test_stable_bucket_fixed_values():
    # CRC-32 values: the same on every machine and in every Python process (unlike the salted hash()).
    assert sentiment.stable_bucket("好评", N_BUCKETS) == 1035060
    assert sentiment.stable_bucket("差评", N_BUCKETS) == 260007
    assert sentiment.stable_bucket("破损", N_BUCKETS) == 395267
    assert sentiment.stable_bucket("a", N_BUCKETS) == 507459


def test_features_normalize_width_case_and_spaces():
    assert sentiment.normalize_zh("Ｇｏｏｄ  好 评！") == "good好评!"
    assert sentiment.zh_features("好评！", ngram_max=2) == ["好", "评", "!", "好评", "评!"]
    matrix = sentiment.zh_design_matrix(["好评好评", "", "差"], N_BUCKETS, 3)
    assert matrix.shape == (3, N_BUCKETS)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    assert norms[0] == pytest.approx(1.0) and norms[1] == 0.0 and norms[2] == pytest.approx(1.0)
    row = matrix.getrow(0)
    assert row[0, sentiment.stable_bucket("好评", N_BUCKETS)] > row[0, sentiment.stable_bucket("评好", N_BUCKETS)]



def test_negation_marks_scope_of_each_negator():
    mark = sentiment.NEGATION_MARK
    # "没有" is one negator (not "没" + "有"); a scope stops at punctuation and at three characters
    assert sentiment.negation_features("不好吃,没有送到!别买") == [
        mark + "好", mark + "好吃", mark + "送", mark + "送到", mark + "买"]
    assert sentiment.negation_features("味道不太好吃") == [mark + "太", mark + "太好", mark + "太好吃"]
    assert sentiment.negation_features("很好吃") == []
    assert sentiment.negation_features("不") == []
    feats = sentiment.zh_features("不好", ngram_max=1, negation=True)
    assert feats == ["不", "好", mark + "好"]
    assert sentiment.zh_features("不好", ngram_max=1) == ["不", "好"]  # marks only when asked


def test_word_features_are_marked_words_and_pairs():
    feats = sentiment.word_features(sentiment.normalize_zh("味道不错，送餐很快"))
    mark = sentiment.WORD_MARK
    assert mark + "味道" in feats and mark + "不错" in feats
    assert mark + "味道|不错" in feats
    assert not any(f.endswith("|,") or f.startswith(mark + ",") for f in feats)  # punctuation is no word
    assert all(len(f) > len(mark) + 1 or "|" in f for f in feats)  # single characters only inside pairs

# Food-delivery reviews written for this test after the generator (benchmarks/train_sentiment.py,
# delivery_examples) was written, in other words than its phrases; none is in its output (checked below).
DELIVERY_HAND = [
    ("骑手小哥一路小跑送上来的，饭还烫嘴", "positive"),
    ("下着大雨还提前十分钟到了，汤一滴没洒", "positive"),
    ("虽然等得久了一点，但是菜量很足而且很香", "positive"),
    ("餐具纸巾都给得很齐，味道也对得起价格", "positive"),
    ("饭菜送到时已经冰凉，汤还撒了一半", "negative"),
    ("足足等了两个半小时，打电话给骑手也不接", "negative"),
    ("味道还行，就是送得实在太慢了", "negative"),
    ("少了一盒米饭，联系商家也不给退款", "negative"),
]
# Still wrong after round 3 (the cases were written before the retrain and are kept so a fix shows up).
DELIVERY_STILL_WRONG = {
    "饭菜送到时已经冰凉，汤还撒了一半": "scored -0.04, inside the neutral band",
    "味道还行，就是送得实在太慢了": "the complaint after 就是 does not outweigh 味道还行 (scored +0.45); "
                                   "the turn blend that fixes it is off by default (round 4)",
}


@lru_cache(maxsize=1)
def _training_script():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "train_sentiment.py"
    spec = importlib.util.spec_from_file_location("train_sentiment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_delivery_generator_is_seeded_balanced_and_labels_by_the_clause_after_the_turn():
    train = _training_script()
    rows = train.delivery_examples(400, seed=3)
    assert rows == train.delivery_examples(400, seed=3)
    assert rows != train.delivery_examples(400, seed=4)
    texts = [t for t, _ in rows]
    assert len(set(texts)) == 400 and sum(y for _, y in rows) == 200
    positive_phrases = {p.replace("{i}", i) for pos, _ in train.DELIVERY_ASPECTS.values() for p in pos
                        for i in train.INTENSIFIERS}
    negative_phrases = {p.replace("{i}", i) for _, neg in train.DELIVERY_ASPECTS.values() for p in neg
                        for i in train.INTENSIFIERS}
    contrasts = 0
    for text, label in rows:
        for turn in ("但是", "不过", "就是", "可惜"):
            if turn in text:
                contrasts += 1
                after = text.split(turn, 1)[1].split("，")[0]
                assert after in (positive_phrases if label else negative_phrases), text
                if turn in ("就是", "可惜"):
                    assert label == 0, text
    assert contrasts > 100


def test_delivery_hand_cases_are_not_generated_sentences():
    generated = {t for t, _ in _training_script().delivery_examples()}
    assert not generated & {t for t, _ in DELIVERY_HAND}


@pytest.mark.parametrize("text,label", [
    pytest.param(t, y, marks=pytest.mark.xfail(strict=True, reason=DELIVERY_STILL_WRONG[t]))
    if t in DELIVERY_STILL_WRONG else (t, y) for t, y in DELIVERY_HAND])
def test_delivery_hand_cases(text, label):
    row = sentiment.score([text]).iloc[0]
    assert row["label"] == label


@pytest.mark.parametrize("text,label", HARD_CASES)
def test_hard_cases_new_model_right_where_previous_scorer_was_wrong(text, label):
    previous = sentiment.previous_zh_score(text)
    assert (previous > 0) != (label == "positive"), "no longer a case the previous scorer got wrong"
    row = sentiment.score([text]).iloc[0]
    assert row["language"] == "zh"
    assert row["label"] == label


@pytest.mark.parametrize("text,after", [
    ("味道还行，就是送得实在太慢了", "送得实在太慢了"),
    ("虽然慢了点，但是很好吃", "很好吃"),
    ("东西不错。只是物流慢，可惜包装破了", "包装破了"),  # the LAST turn decides
    ("还行 就是贵", "贵"),  # a space ends a clause too
    ("包装不错,不过有点小", "有点小"),  # half-width comma
    ("这家就是好吃", None),  # 就是 inside a clause means "really", not a turn
    ("这只是第一次点", None),
    ("不但好吃而且快", None),  # 不但 "not only"
    ("很好，但愿下次也这样", None),  # 但愿 "hope"
    ("太可惜了", None),  # nothing after the marker but a particle
    ("很好吃", None),
])
def test_clause_after_turn(text, after):
    assert sentiment.clause_after_turn(text) == after


def test_turn_weight_blends_the_after_clause_in_one_batch():
    texts = ["味道还行，就是送得实在太慢了", "很好吃", "送得实在太慢了"]
    whole = sentiment.zh_model_scores(texts, turn_weight=0.0)
    blended = sentiment.zh_model_scores(texts, turn_weight=0.4)
    assert blended[0] == pytest.approx(0.6 * whole[0] + 0.4 * whole[2])
    assert blended[1:] == pytest.approx(whole[1:])  # no turn, or nothing before it that differs
    assert sentiment.zh_model_scores(texts, turn_weight=1.0)[0] == pytest.approx(whole[2])
    with pytest.raises(ConfigError, match="turn_weight"):
        sentiment.zh_model_scores(texts, turn_weight=1.5)


def test_turn_blend_at_the_dev_chosen_weight_decides_the_contrast_hand_case():
    # 0.5 is the weight the training dev split chose in round 4 (not shipped: see the results file)
    text = "味道还行，就是送得实在太慢了"
    assert sentiment.zh_model_scores([text], turn_weight=0.0)[0] > 0.1
    assert sentiment.zh_model_scores([text], turn_weight=0.5)[0] < -0.1


def test_batch_equals_one_by_one():
    texts = [t for t, _ in HARD_CASES] + ["很好", "Great"]
    together = sentiment.score(texts)["score"].to_numpy()
    alone = np.array([sentiment.score_text(t)[1] for t in texts])
    assert np.allclose(together, alone)


ENGLISH = [
    # text, VADER compound, shipped score (VADER blended half and half with tanh of the domain hits)
    ("Love it, beautiful mug", 0.8442, 0.5 * 0.8442 + 0.5 * math.tanh(0.8)),
    ("Arrived broken, terrible", -0.7351, 0.5 * -0.7351 + 0.5 * math.tanh(-1.0)),
    ("The battery life is great.", 0.6249, 0.6249),
    ("It works.", 0.0, 0.0),
]


@pytest.mark.parametrize("text,vader,shipped", ENGLISH)
def test_english_unchanged(text, vader, shipped):
    assert sentiment.score([text], use_domain=False)["score"].iloc[0] == pytest.approx(vader, abs=1e-4)
    row = sentiment.score([text]).iloc[0]
    assert row["language"] == "en"
    assert row["score"] == pytest.approx(shipped, abs=1e-4)


def test_missing_weights_file_is_a_config_error(monkeypatch):
    monkeypatch.setattr(sentiment, "ZH_MODEL_FILE", "no_such_weights.npz")
    sentiment.zh_model.cache_clear()
    try:
        with pytest.raises(ConfigError, match="no_such_weights.npz"):
            sentiment.score(["很好"])
    finally:
        monkeypatch.undo()
        sentiment.zh_model.cache_clear()
