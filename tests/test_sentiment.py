"""spikekit.core.sentiment: obvious cases per language, order, empty text, and the `spike sentiment` command."""
import json

import numpy as np
import pandas as pd
import pytest

from spikekit.core import sentiment
from spikekit.cli import main
from spikekit.core.errors import ConfigError

OBVIOUS = [
    ("这个杯子太漂亮了，很喜欢", "zh", "positive"),
    ("收到就碎了，太差了，要退货", "zh", "negative"),
    ("Love it, beautiful mug", "en", "positive"),
    ("Arrived broken, terrible", "en", "negative"),
]


@pytest.mark.parametrize("text,language,label", OBVIOUS)
def test_obvious_cases(text, language, label):
    row = sentiment.score([text]).iloc[0]
    assert row["language"] == language
    assert row["label"] == label
    assert -1 <= row["score"] <= 1


def test_order_preserved_and_mixed_list():
    texts = [t for t, _, _ in OBVIOUS]
    forward = sentiment.score(texts)
    backward = sentiment.score(texts[::-1])
    assert forward["label"].tolist() == [lab for _, _, lab in OBVIOUS]
    assert backward["label"].tolist() == forward["label"].tolist()[::-1]
    assert np.allclose(backward["score"].to_numpy(), forward["score"].to_numpy()[::-1])


def test_empty_and_missing_text_are_neutral():
    out = sentiment.score(["", "   ", None, float("nan"), "Great!"])
    assert out["label"].tolist()[:4] == ["neutral"] * 4
    assert out["score"].tolist()[:4] == [0.0] * 4
    assert out["language"].tolist() == ["", "", "", "", "en"]
    assert list(out.columns) == ["language", "score", "label"]


def test_neutral_band_and_counts():
    texts = [t for t, _, _ in OBVIOUS]
    widest = float(sentiment.score(texts)["score"].abs().max())  # a band this wide holds every score
    assert 0.5 < widest < 1
    wide = sentiment.score(texts, neutral_band=widest)
    assert set(wide["label"]) == {"neutral"}
    counts = sentiment.label_counts(sentiment.score([t for t, _, _ in OBVIOUS]))
    assert counts.to_dict() == {"positive": 2, "neutral": 0, "negative": 2}
    with pytest.raises(ConfigError):
        sentiment.score(["x"], neutral_band=1.5)


def test_deterministic_and_series_index_kept():
    s = pd.Series(["好评，包装精美", "发货慢，破损"], index=[10, 20])
    a, b = sentiment.score(s), sentiment.score(s)
    assert a.index.tolist() == [10, 20]
    pd.testing.assert_frame_equal(a, b)
    assert a["label"].tolist() == ["positive", "negative"]


def test_language_by_script():
    assert sentiment.language_of("mug 很好") == "zh"
    assert sentiment.language_of("mug ok") == "en"
    assert sentiment.language_of("") == ""


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


CSV = 'id,评论\n1,这个杯子太漂亮了，很喜欢\n2,收到就碎了，太差了，要退货\n3,"Love it, beautiful mug"\n4,\n5,"Arrived broken, terrible"\n'


def test_cli_csv_output(tmp_path, capsys):
    path = _write(tmp_path, "reviews.csv", CSV)
    assert main(["sentiment", str(path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "row,label,score,language"
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == ["2", "3", "4", "5", "6"]
    assert [r[1] for r in rows] == ["positive", "negative", "positive", "neutral", "negative"]
    assert rows[3][3] == ""


def test_cli_gbk_and_json(tmp_path, capsys):
    path = _write(tmp_path, "reviews_gbk.csv", CSV.replace("评论", "评价"), encoding="gbk")
    assert main(["sentiment", str(path), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["row"] for r in records] == [2, 3, 4, 5, 6]
    assert [r["language"] for r in records] == ["zh", "zh", "en", "", "en"]
    assert records[1]["label"] == "negative" and records[1]["score"] < 0


def test_cli_xlsx_and_named_column(tmp_path, capsys):
    path = tmp_path / "reviews.xlsx"
    pd.DataFrame({"note": ["x", "y"], "body": ["包装精美，好评", "发货慢，破损，要退款"]}).to_excel(path, index=False)
    assert main(["sentiment", str(path), "--text-column", "body"]) == 0
    out = capsys.readouterr().out
    assert "2,positive" in out and "3,negative" in out


def test_cli_errors_exit_2(tmp_path, capsys):
    assert main(["sentiment", str(tmp_path / "missing.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    path = _write(tmp_path, "other.csv", "id,stars\n1,5\n")
    assert main(["sentiment", str(path)]) == 2
    err = capsys.readouterr().err
    assert "id, stars" in err
    assert main(["sentiment", str(path), "--text-column", "body"]) == 2
    assert "'body'" in capsys.readouterr().err
