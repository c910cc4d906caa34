"""How the early-warning detector does on real Google Trends series, scanned the way a shop would have.

Protocol (the same for every detector compared):

- Each series is cut causally: for every period t, only the rows up to t exist.
- Each cut is re-scaled to its own maximum (100) and rounded to whole index points, `<1` where a value is
  above 0 but rounds to 0, like a real export made that day (Google Trends scales every export to its own
  window, so a long quiet stretch reads far higher in an early export than in the final one).
- The cut is scanned as of the end of its last period (a week is over when the next one begins). An alert
  is the scan's status "alert" or "strong" (what `spike scan` and chapter 01 call an alert).
- A fad is caught *in time* when its first alert within the 26 weeks before the peak comes at least 7 days
  before the end of the peak period; lead = end of the peak period - alert time. Alerts earlier than that
  window are counted as early (false) alerts. A control that alerts at any cut is a false alarm.

Detectors: spikekit's default `DetectorSettings` (the shipped one); the handbook's bare rule (this period
/ last period - 1 >= +150%); a listening-tool rule (this period > mean + 2 standard deviations of the
previous 8). Then the same protocol on seeded synthetic series (slow ramps, a bump before a jump, seasonal,
heat-wave, slow-burning, Black-Friday and shock controls): the set the defaults were chosen on. A one-at-a-
time sensitivity table follows, and a daily section: the daily series scanned every day (chapter 01's
daily mode) with and without the persistence waiver.

Usage: python benchmarks/report_real_trends.py --data DIR [--out FILE]

DIR holds real Google Trends exports (weekly or monthly files as Trends writes them, and daily files with a
date column and one value column); files may sit in subfolders. The data are not part of the repository.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from spikekit.inputs import contracts
from spikekit.chapters import early_warning as signals
from spikekit.core.paths import PROJECT_ROOT

OUT = PROJECT_ROOT / "benchmarks" / "results" / "real_trends.md"
WINDOW_WEEKS = 26  # a fad's first alert counts when it comes within this many weeks before the peak
IN_TIME_DAYS = 7

# What each development series is (from the data folder's READMEs). Keys are series names as read.
FADS = {
    "wordle": "weekly export 2017-12..2022-11; <1 for four years, rise from 2022-01-02, peak 2022-02-13",
    "toilet paper": "weekly, Japan 2020; panic buying, rise 2020-02-23, peak 2020-03-01 (export starts 2 weeks before)",
    "glazed donut nails": "monthly 2020-01..2026-03; 4 in 2022-06, 54 in 2022-07, peak 2022-08",
    "fidget spinner": "daily 2017-03..09 (weekly means here); slow climb 2 -> 17 over 7 weeks, then the rise",
    "Squid Game": "daily 2021-09..2022-02; 16 days of 0, release 2021-09-17",
    "Manike Mage Hithe": "daily 2021-07..12; slow ramp from 07-20, steep rise in August",
    "quiet quitting": "daily 2022-07..2023-02; jagged rise from 08-12",
    "deepseek": "daily 2024-12..2025-04; a step at 12-27, explosive 01-27",
    "kabur aja dulu": "daily 2024-12..2025-03; a one-day false start 02-08, rise 02-11",
}
EPISODIC = {"yeezy": "release-day hype spikes (not scored)"}
DAILY_NAMES = {  # daily files whose value column is not named after the keyword
    "fidget_spinner": "fidget spinner", "Squid_Game": "Squid Game", "Manike_Mage_Hithe": "Manike Mage Hithe",
    "quiet_quitting": "quiet quitting",
}


# ----------------------------------------------------------------------------------------------------------
# Reading


@dataclasses.dataclass
class Series:
    name: str
    values: pd.Series  # index: period start (naive dates), values: Trends index, `<1` read as 0.5
    period: str  # "day" | "week" | "month"
    role: str  # "fad" | "control" | "episodic"
    source: str
    note: str = ""


def _read_daily_fallback(path: Path) -> tuple[str, pd.Series]:
    """Daily files written by pytrends or renamed by hand: a date column and one value column."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    skip = next(i for i, line in enumerate(lines) if line.count(",") >= 1 and ":" not in line.split(",")[0])
    frame = pd.read_csv(path, skiprows=skip, dtype=str)
    dates = frame.iloc[:, 0]
    day_first = dates.str.match(r"^\d{2}-\d{2}-\d{4}$").all()
    index = pd.to_datetime(dates, format="%d-%m-%Y" if day_first else "%Y-%m-%d")
    values = frame.iloc[:, 1].str.strip().replace({"<1": "0.5"}).astype(float)
    stem = next((v for k, v in DAILY_NAMES.items() if path.name.startswith(k)), frame.columns[1].split(":")[0])
    return stem, pd.Series(values.to_numpy(), index=pd.DatetimeIndex(index))


def read_folder(data: Path) -> list[Series]:
    out = []
    for path in sorted(p for p in data.rglob("*.csv")):
        try:
            raw, info = contracts.read_raw(path)
            frame = contracts.validate_table(raw, contracts.SIGNALS, tz="UTC", file=path.name, info=info)
            groups = [(str(k), g.sort_values("timestamp")) for k, g in frame.groupby("keyword", sort=False, observed=True)]
            series = [(k, pd.Series(g["value"].to_numpy(float), index=g["timestamp"].dt.tz_localize(None))) for k, g in groups]
        except Exception:  # not a signals table: a pytrends-style daily file
            try:
                series = [_read_daily_fallback(path)]
            except Exception as exc:
                print(f"skipped {path.name}: {exc}", file=sys.stderr)
                continue
        for name, values in series:
            gaps = values.index.to_series().diff().dt.days.dropna()
            period = "day" if gaps.min() <= 1 else ("month" if gaps.min() >= 27 else "week")
            role = "fad" if name in FADS else ("episodic" if name in EPISODIC else "control")
            out.append(Series(name, values, period, role, path.name, FADS.get(name, EPISODIC.get(name, ""))))
    return out


def weekly_from_daily(values: pd.Series) -> pd.Series:
    """Trends-style weeks (Sunday to Saturday, labelled by the Sunday): the mean of complete weeks."""
    weeks = values.resample("W-SAT").agg(["mean", "count"])
    weeks = weeks[weeks["count"] == 7]["mean"]
    weeks.index = weeks.index - pd.Timedelta(days=6)
    return weeks


def scored_series(series: list[Series]) -> list[Series]:
    """Weekly and monthly series as they are; daily ones as weekly exports of the same window."""
    out = []
    for s in series:
        if s.period == "day":
            out.append(dataclasses.replace(s, values=weekly_from_daily(s.values), period="week",
                                           source=s.source + " (weekly means)"))
        else:
            out.append(s)
    return out


# ----------------------------------------------------------------------------------------------------------
# Causal, re-scaled cuts


def rescale(values: np.ndarray) -> np.ndarray:
    """A cut as Google Trends would export it: 100 = its own maximum, whole points, `<1` read as 0.5."""
    top = np.nanmax(values)
    if not top > 0:
        return np.zeros_like(values)
    scaled = np.round(values / top * 100.0)
    return np.where((scaled == 0) & (values > 0), 0.5, scaled)


def step(period: str):
    return {"day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7), "month": pd.DateOffset(months=1)}[period]


def spikekit_alerts(s: Series, settings: signals.DetectorSettings) -> np.ndarray:
    """Per period t: does a scan of the cut ending at t, re-scaled, say alert? All cuts in one evaluate()
    call (each cut is its own keyword, so no cut sees another's rows)."""
    values = s.values.to_numpy(float)
    parts = []
    for i in range(1, len(values)):
        parts.append(pd.DataFrame({"keyword": f"c{i:05d}", "timestamp": s.values.index[: i + 1],
                                   "value": rescale(values[: i + 1])}))
    frame = pd.concat(parts, ignore_index=True)
    frame["platform"], frame["metric"] = "trends", "search_index"
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
    # A daily row is the day's total and is binned into the 24 hours ending at its own stamp; a weekly or
    # monthly point is complete when its period has ended.
    ends = alert_times(s).tz_localize("UTC")
    as_of = ends[-1]
    ev = signals.evaluate(frame, as_of, dataclasses.replace(settings, tz="UTC", period=s.period))
    ev = ev.assign(i=ev["keyword"].astype(str).str[1:].astype(int))
    last = ev[ev["eval_end"] == ends[ev["i"].to_numpy()]]
    out = np.zeros(len(values), dtype=bool)
    out[last["i"].to_numpy()] = last["alert"].to_numpy(dtype=bool)
    return out


def alert_times(s: Series) -> pd.DatetimeIndex:
    """When each period's value is known: the end of a week or month; a daily row's own stamp."""
    return s.values.index if s.period == "day" else s.values.index + step(s.period)


def rule_alerts(s: Series, rule) -> np.ndarray:
    values = s.values.to_numpy(float)
    out = np.zeros(len(values), dtype=bool)
    for i in range(1, len(values)):
        out[i] = rule(rescale(values[: i + 1]))
    return out


def handbook_rule(cut: np.ndarray, band: float = 1.5) -> bool:
    return cut[-2] > 0 and cut[-1] / cut[-2] - 1.0 >= band


def listening_rule(cut: np.ndarray, history: int = 8, k: float = 2.0) -> bool:
    if len(cut) < history + 1:
        return False
    past = cut[-history - 1 : -1]
    return bool(cut[-1] > past.mean() + k * past.std(ddof=1))


def score(s: Series, alerts: np.ndarray) -> dict:
    ends = s.values.index + step(s.period)
    peak = int(np.argmax(s.values.to_numpy()))
    peak_end = ends[peak]
    hits = np.flatnonzero(alerts)
    row = {"series": s.name, "role": s.role, "period": s.period, "peak": s.values.index[peak], "alerts": len(hits),
           "first_alert": pd.NaT, "lead_days": np.nan, "early": 0, "after_peak": 0}
    if s.role != "fad":
        row["first_alert"] = ends[hits[0]] if len(hits) else pd.NaT
        return row
    window_start = peak_end - pd.Timedelta(weeks=WINDOW_WEEKS)
    inside = [j for j in hits if window_start <= ends[j] <= peak_end]
    row["early"] = sum(1 for j in hits if ends[j] < window_start)
    row["after_peak"] = sum(1 for j in hits if ends[j] > peak_end)
    if inside:
        row["first_alert"] = ends[inside[0]]
        row["lead_days"] = (peak_end - ends[inside[0]]).days
    return row


def summary(table: pd.DataFrame) -> dict:
    fads = table[table["role"] == "fad"]
    in_time = fads[fads["lead_days"] >= IN_TIME_DAYS]
    controls = table[table["role"] == "control"]
    return {
        "fads in time": f"{len(in_time)}/{len(fads)}",
        "median lead (days)": f"{in_time['lead_days'].median():.0f}" if len(in_time) else "-",
        "controls alerting": f"{int((controls['alerts'] > 0).sum())}/{len(controls)}",
        "early alerts on fads": int(fads["early"].sum()),
    }


def run(series: list[Series], detector) -> pd.DataFrame:
    return pd.DataFrame([score(s, detector(s)) for s in series])


# ----------------------------------------------------------------------------------------------------------
# Synthetic series: the set the defaults were chosen on (seeded, so the report is repeatable)


def synthetic(seeds=range(6)) -> list[Series]:
    out = []
    n = 260
    t = np.arange(n)
    index = pd.date_range("2018-01-07", periods=n, freq="7D")
    for seed in seeds:
        rng = np.random.default_rng(seed)

        def noisy(level, sd=0.08):
            return pd.Series(np.round(level * np.exp(rng.normal(0.0, sd, n)), 3), index=index)

        for k in range(4):  # slow ramps: +10..35% a week for 6..15 weeks, then a 3-6x jump in two weeks
            rate, weeks, start = rng.uniform(0.10, 0.35), int(rng.integers(6, 16)), int(rng.integers(150, 200))
            base = rng.uniform(2, 10)
            level = np.full(n, base)
            end = start + weeks
            level[start:end] = base * (1 + rate) ** np.arange(1, weeks + 1)
            top = level[end - 1] * rng.uniform(3, 6)
            level[end], level[end + 1] = np.sqrt(top * level[end - 1]), top
            level[end + 2 :] = np.maximum(top * np.exp(-0.25 * np.arange(1, n - end - 1)), base * 1.5)
            out.append(Series(f"slow ramp {seed}.{k}", noisy(level), "week", "fad", "synthetic"))
        level = np.full(n, 5.0)  # a bump, then a +100% and a +340% week
        bump = int(rng.integers(120, 180))
        level[bump : bump + 3] = [12, 14, 7]
        jump = bump + int(rng.integers(6, 20))
        level[jump : jump + 4] = [10, 44, 80, 100]
        level[jump + 4 :] = 100 * np.exp(-0.2 * np.arange(1, n - jump - 3)) + 5
        out.append(Series(f"bump then jump {seed}", noisy(level), "week", "fad", "synthetic"))
        season = 10 + 30 * np.exp(-0.5 * ((t % 52 - 43) / 3.0) ** 2)  # 4x every autumn
        out.append(Series(f"seasonal {seed}", noisy(season), "week", "control", "synthetic"))
        summer = 20 + 20 * np.exp(-0.5 * ((t % 52 - 28) / 5.0) ** 2)  # summer products, one heat wave
        wave = int(rng.integers(2, 5)) * 52 + 28
        summer[wave : wave + 3] *= [2.2, 2.8, 1.6]
        out.append(Series(f"heat wave {seed}", noisy(summer), "week", "control", "synthetic"))
        out.append(Series(f"slow burner {seed}", noisy(5 * 1.015**t), "week", "control", "synthetic"))
        friday = np.full(n, 50.0)  # Black Friday: +80% one week a year
        friday[t % 52 == 47] *= 1.8
        friday[(t % 52 == 46) | (t % 52 == 48)] *= 1.3
        out.append(Series(f"Black Friday {seed}", noisy(friday), "week", "control", "synthetic"))
        shock = np.full(n, 30.0)  # a lockdown-like shock: x2.2 over four weeks, slow return
        at = int(rng.integers(100, 200))
        shock[at : at + 4] *= [1.3, 1.7, 2.0, 2.2]
        shock[at + 4 : at + 20] *= np.linspace(2.0, 1.1, 16)
        out.append(Series(f"shock {seed}", noisy(shock), "week", "control", "synthetic"))
    return out


# ----------------------------------------------------------------------------------------------------------
# Daily mode: the persistence waiver


def daily_first_alerts(series: list[Series], settings: signals.DetectorSettings) -> pd.DataFrame:
    rows = []
    for s in series:
        if s.period != "day" or s.role != "fad":
            continue
        with_waiver = spikekit_alerts(s, settings)
        without = spikekit_alerts(s, dataclasses.replace(settings, waive_persistence=False))
        ends = alert_times(s)
        peak_end = ends[int(np.argmax(s.values.to_numpy()))]

        def first(alerts):
            hits = [j for j in np.flatnonzero(alerts) if peak_end - pd.Timedelta(weeks=WINDOW_WEEKS) <= ends[j] <= peak_end]
            return ends[hits[0]] if hits else pd.NaT

        a, b = first(with_waiver), first(without)
        rows.append({"series": s.name, "peak": s.values.index[int(np.argmax(s.values.to_numpy()))],
                     "first alert, waiver": a, "first alert, persistence 2 always": b,
                     "days earlier": (b - a).days if pd.notna(a) and pd.notna(b) else np.nan,
                     "alert days, waiver": int(with_waiver.sum()), "alert days, without": int(without.sum())})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------------
# Report


SENSITIVITY = [
    ("defaults", {}),
    ("no sustained-rise test", {"ramp_weeks": ()}),
    ("ramp over 4 weeks only", {"ramp_weeks": (4,)}),
    ("ramp_band +100%", {"ramp_band": 1.0}),
    ("novelty 2x", {"novelty": 2.0}),
    ("novelty 4x", {"novelty": 4.0}),
    ("novelty_short_history 4x", {"novelty_short_history": 4.0}),
    ("history_weeks 8 (old default)", {"history_weeks": 8}),
    ("band_low +100%", {"band_by_category": {"default": (1.0, 2.0)}}),
    ("min_score 2.33 (99%)", {"min_score": 2.33}),
    ("old detector (no ramp, history 8)", {"ramp_weeks": (), "history_weeks": 8}),
]


def fmt(t) -> str:
    return "" if pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%d")


def table_md(frame: pd.DataFrame) -> list[str]:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, pd.Timestamp):
                cells.append(fmt(v))
            elif isinstance(v, float):
                cells.append("" if np.isnan(v) else f"{v:.0f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of real Google Trends exports")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"no data folder {args.data}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    raw = read_folder(args.data)
    real = [s for s in scored_series(raw) if s.role != "episodic"]
    episodic = [s for s in scored_series(raw) if s.role == "episodic"]
    synth = synthetic()
    settings = signals.DetectorSettings(tz="UTC")
    detectors = {
        "spikekit (defaults)": lambda s: spikekit_alerts(s, settings),
        "handbook rule (w/w >= +150%)": lambda s: rule_alerts(s, handbook_rule),
        "listening rule (mean + 2 sd of 8)": lambda s: rule_alerts(s, listening_rule),
    }
    results = {name: run(real, det) for name, det in detectors.items()}
    synth_results = {name: run(synth, det) for name, det in detectors.items()}
    sensitivity = []
    for name, change in SENSITIVITY:
        variant = dataclasses.replace(settings, **change)
        sensitivity.append((name, summary(run(real, lambda s: spikekit_alerts(s, variant))),
                            summary(run(synth, lambda s: spikekit_alerts(s, variant)))))
    daily = daily_first_alerts(raw, settings)
    yeezy = run(episodic, detectors["spikekit (defaults)"]) if episodic else None

    out = ["# Early warning on real Google Trends series, scanned as a shop would have", ""]
    out += [f"Command: `python benchmarks/report_real_trends.py --data DIR` (DIR: a folder of real Trends exports; "
            f"see Data below). Took {time.perf_counter() - started:.0f} s.", ""]
    out += [line.strip() for line in __doc__.split("Protocol")[1].split("Usage:")[0].splitlines()[1:] if True]
    out += ["## Summary", "", "| detector | real: fads in time | real: median lead (days) | real: controls alerting "
            "| synthetic: fads in time | synthetic: median lead | synthetic: controls alerting |", "|---|---|---|---|---|---|---|"]
    for name in detectors:
        a, b = summary(results[name]), summary(synth_results[name])
        out.append(f"| {name} | {a['fads in time']} | {a['median lead (days)']} | {a['controls alerting']} "
                   f"| {b['fads in time']} | {b['median lead (days)']} | {b['controls alerting']} |")
    out += ["", "## Per real series (spikekit defaults | handbook rule | listening rule)", ""]
    rows = []
    for s, (_, a), (_, b), (_, c) in zip(real, *(r.iterrows() for r in results.values())):
        def cell(r):
            if s.role != "fad":
                return f"{r['alerts']} alerting cuts" + (f", first {fmt(r['first_alert'])}" if r["alerts"] else "")
            return ("missed" if np.isnan(r["lead_days"]) else f"{fmt(r['first_alert'])} ({r['lead_days']:.0f} d)") + (
                f", {r['early']} early" if r["early"] else "")
        rows.append({"series": s.name, "role": s.role, "source": s.source, "peak": fmt(a["peak"]),
                     "spikekit": cell(a), "handbook": cell(b), "listening": cell(c), "what it is": s.note})
    out += table_md(pd.DataFrame(rows))
    if yeezy is not None:
        out += ["", "Episodic (not scored): " + "; ".join(f"{r['series']}: {r['alerts']} alerting cuts" for _, r in yeezy.iterrows())]
    out += ["", "## Synthetic series (spikekit defaults)", ""]
    syn = synth_results["spikekit (defaults)"]
    by_kind = syn.assign(kind=syn["series"].str.replace(r" \d+(\.\d+)?$", "", regex=True))
    agg = []
    for (kind, role), g in by_kind.groupby(["kind", "role"], sort=False):
        hit = (g["lead_days"] >= IN_TIME_DAYS) if role == "fad" else (g["alerts"] > 0)
        agg.append({"kind": kind, "role": role, "series": len(g),
                    "in time (fads) / alerting (controls)": int(hit.sum()),
                    "median lead (days)": g["lead_days"].median() if role == "fad" else np.nan})
    out += table_md(pd.DataFrame(agg))
    out += ["", "## Sensitivity (one change at a time; real | synthetic)", "",
            "| variant | real: fads in time | real: median lead | real: controls alerting | synthetic: fads in time "
            "| synthetic: median lead | synthetic: controls alerting |", "|---|---|---|---|---|---|---|"]
    for name, a, b in sensitivity:
        out.append(f"| {name} | {a['fads in time']} | {a['median lead (days)']} | {a['controls alerting']} "
                   f"| {b['fads in time']} | {b['median lead (days)']} | {b['controls alerting']} |")
    out += ["", "## Daily mode: does persistence 2 earn its day?", "",
            "The daily series scanned every day (each day's cut re-scaled), chapter 01's settings: persistence 2 "
            "with the waiver (an evaluation whose whole growth interval is above +200% alerts at once) against "
            "persistence 2 always.", ""]
    out += table_md(daily) if len(daily) else ["(no daily series in DIR)"]
    out += ["", NOTES, "", "## Settings used", "", "```"]
    out += [f"{f.name} = {getattr(settings, f.name)!r}" for f in dataclasses.fields(settings)]
    out += ["```", ""]
    text = "\n".join(out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


NOTES = """## How the defaults were chosen, and kept apart from these series

- The handbook's band (+150%/+200% week over week) and evidence level (one-sided 95%) are unchanged.
- The three new defaults were fixed on the synthetic set above, built from the shapes the missed real fads
  were described as (slow ramps of +10-50% a week for weeks before the jump; a +100% then +340% rise after an
  earlier, smaller bump) and the control kinds that must stay quiet (seasonal, heat wave, slow burner, Black
  Friday, a lockdown-like shock): history_weeks 26 (the bump-then-jump fads: with 8 past ratios half of them
  can be the bump's, and the robust spread hides the jump), a sustained-rise test over 4 or 8 weeks
  against the same +150% (a +30%-a-week ramp passes over 8 weeks; one week at +30% never does), and novelty
  3x the highest level before the rise (seasonal and shock controls reach 1-2.2x), 6x with less than a
  year of history (a season's first swing in an export is new to it; the synthetic seasonal control's
  first autumn reaches 3-4x).
- The real series were scored after those choices, and nothing was changed after seeing them. They are
  development data: the issue's figures come from a separate, held-out set of 8 fads and 15 controls. The
  sensitivity table shows the neighbours of each default on both sets.
- Daily files are also scored as weekly exports (weekly means of complete Sunday-Saturday weeks), since a
  weekly export is what most sellers download; their windows start only 2-7 weeks before the rise, so the
  6x bar applies to them.

## Data

Real exports from public GitHub repositories (not shipped): `Luan-Lima-Freitas/Keywords-Search-Volume`
(wordle, costco, target), `Eko7nanterre/Stocker-du-papier-toilette` (toilet paper), `Duy-Vux/yeezy_search_trend`,
`ashnarajbhandari/trend-lifecycle-modeler` (glazed donut nails), `JonathanSHenry/google-trends-visualization`
(gym, weight loss), `VedantiW/Data-Science` (five Indian dishes), and daily series from
`Abhishek0Patil/virality-predictor` (fidget spinner, Squid Game, Manike Mage Hithe, quiet quitting),
`roopa-yashaswini/deepseek_timeseries_analysis` and `artsyhrstn/Analisis-Tagar-KaburAjaDulu`."""


if __name__ == "__main__":
    raise SystemExit(main())
