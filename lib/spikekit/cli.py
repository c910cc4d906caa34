"""The ``spike`` command: run the playbook, list and show runs, scan a signals file."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import SpikeError


def _cmd_run(args) -> int:
    from .runner import run

    chapters = [c.strip() for c in args.chapters.split(",") if c.strip()] if args.chapters else None
    pool, tags = None, None
    if args.executor == "dask" or (args.executor is None and args.scheduler):
        from .distributed import pool_for, scheduler_address

        address = scheduler_address(args.scheduler)
        pool = pool_for(address, size=args.workers, records=args.records)
        tags = {"executor": "dask", "scheduler": address}
    try:
        outcome = run(args.spike, args.as_of, chapters=chapters, workers=args.workers, records=args.records,
                      resume=args.resume, timeout_s=args.timeout, prewarm=not args.no_prewarm, pool=pool, tags=tags)
    finally:
        if pool is not None:
            pool.close()
    m = outcome.manifest
    print(f"run {m['run_id']} of '{m['spike']}' as of {m['as_of']}: {m['status']} in {m['duration_s']:.1f}s",
          file=sys.stderr)
    print(outcome.run_dir)
    return 0 if outcome.ok else 1


def _cmd_replay(args) -> int:
    from .replay import replay

    chapters = [c.strip() for c in args.chapters.split(",") if c.strip()] if args.chapters else None
    outcome = replay(args.spike, args.start, args.end, every=args.every, chapters=chapters, records=args.records,
                     workers=args.workers)
    m = outcome.manifest
    failed = [s for s in m["steps"] if s["status"] != "ok"]
    print(f"replay {m['replay_id']} of '{m['spike']}': {len(m['steps'])} steps in {m['duration_s']:.1f}s, "
          f"{len(failed)} with a failed chapter; first calls: "
          + ", ".join(f"{c}: {w or '-'}" for c, w in m["first_actions"].items()), file=sys.stderr)
    print(outcome.folder)
    return 0 if not failed else 1


def _cmd_watch(args) -> int:
    from .replay import watch

    chapters = [c.strip() for c in args.chapters.split(",") if c.strip()] if args.chapters else None
    folders = watch(args.spike, every=args.every, chapters=chapters, times=args.times, as_of=args.as_of,
                    records=args.records, workers=args.workers)
    for folder in folders:
        print(folder)
    return 0


def _cmd_list(args) -> int:
    from .runner import list_runs

    rows = list_runs(args.records, args.spike)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print("no runs yet")
        return 0
    print(f"{'spike':<14} {'run id':<24} {'status':<22} {'as of':<26} {'secs':>6}  chapters")
    for r in rows:
        chapters = " ".join(f"{c}:{s}" for c, s in r["chapters"].items())
        secs = f"{r['duration_s']:.1f}" if r["duration_s"] is not None else "-"
        print(f"{r['spike']:<14} {r['run_id']:<24} {r['status']:<22} {r['as_of']:<26} {secs:>6}  {chapters}")
    return 0


def _cmd_show(args) -> int:
    from .runner import load_run
    from .summary import describe_run

    folder, manifest = load_run(args.run, args.records)
    if args.json:
        print(json.dumps(manifest, ensure_ascii=False, indent=1))
    else:
        print(describe_run(manifest, folder))
    return 0


def _cmd_scan(args) -> int:
    from . import contracts, signals

    frame, info = contracts.read_signals_any(args.file, tz=args.timezone)
    alerts = signals.scan_table(frame, as_of=args.as_of, settings=signals.DetectorSettings(tz=args.timezone))
    if args.json:
        print(json.dumps(signals.alerts_to_json(alerts), ensure_ascii=False, indent=1))
    else:
        print(signals.format_alerts(alerts, limit=args.limit))
    return 0


def _cmd_samples(args) -> int:
    from . import samples

    if args.refresh_upstream:
        from .fixtures import refresh_upstream_fixtures

        for path in refresh_upstream_fixtures():
            print(path)
        return 0
    return samples.main(["--check"] if args.check else [])


def _cmd_site(args) -> int:
    from .site import build_site

    outcome = build_site(args.records, args.out, diff=tuple(args.diff) if args.diff else None)
    print(f"site of the records: {len(outcome.pages)} pages; open {outcome.index.as_uri()}", file=sys.stderr)
    if outcome.diff_page is not None:
        print(outcome.diff_page)
    print(outcome.index)
    return 0


def _cmd_dataroom(args) -> int:
    import os

    from .dataroom import voila_command

    notebook = None
    if args.spike:
        from .dataroom import prepare_notebook

        notebook = prepare_notebook(args.spike, args.as_of)
    command = voila_command(args.port, notebook)
    what = f"spike {args.spike}, as of {args.as_of or 'its default'}" if args.spike else "the notebook's defaults"
    print(f"data room (chapter 07, {what}) on http://127.0.0.1:{args.port}/ ; Ctrl-C stops it",
          file=sys.stderr, flush=True)
    os.execv(command[0], command)  # voila takes over this process: signals reach it directly
    return 0


def _cmd_sentiment(args) -> int:
    from .sentiment import score_file

    result = score_file(args.file, args.text_column)
    if args.json:  # JSON lines: one object per input row, in input order
        for record in result.to_dict(orient="records"):
            print(json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}, ensure_ascii=False))
    else:
        sys.stdout.write(result.to_csv(index=False, lineterminator="\n"))
    return 0


def _cmd_patterns(args) -> int:
    from .paths import playbook_dir, records_root
    from .retro import load_library

    records = Path(args.records).resolve() if args.records else records_root()
    library = load_library(records, playbook_dir() / "patterns", before=args.before)
    if args.json:
        print(json.dumps(library.drop(columns=["shape"]).to_dict(orient="records"), ensure_ascii=False, indent=1,
                         default=str))
        return 0
    if library.empty:
        print("the pattern library is empty (python -m spikekit.retro --write-seeds writes the seed spikes)")
        return 0
    print(f"{'spike':<20} {'peak day':>8} {'life days':>9}  {'as of':<20} source")
    for row in library.to_dict(orient="records"):
        peak = "-" if row["peak_day"] is None else f"{float(row['peak_day']):.1f}"
        life = "-" if row["life_days"] is None else f"{float(row['life_days']):.1f}"
        print(f"{row['spike']:<20} {peak:>8} {life:>9}  {str(row['as_of'])[:19]:<20} {row['source']}")
    return 0


def _cmd_verify(args) -> int:
    from .errors import ConfigError
    from .record import read_manifest
    from .runner import locate_run_folder
    from .seal import verify

    folder = locate_run_folder(args.run, args.records)
    report = verify(folder)
    lines = report.lines()
    if (folder / "run.json").is_file():
        try:
            read_manifest(folder / "run.json")
        except ConfigError as exc:
            lines.append(f"damaged: {exc}")
    if not lines:
        print(f"intact: {folder} ({report.files} files match seal.json)")
        return 0
    for line in lines:
        print(line)
    counts = f"{len(report.missing)} missing, {len(report.changed)} changed, {len(report.extra)} extra"
    print(f"NOT intact: {folder} ({counts})")
    return 1


def _cmd_prune(args) -> int:
    from .errors import ConfigError
    from .runner import prune_partials

    if not args.partials:
        raise ConfigError("spike prune: say what to prune. Fix: spike prune --partials (removes partial runs whose "
                          "runner is gone)")
    removed, kept = prune_partials(args.records, args.spike)
    for folder, why in removed:
        print(f"removed {folder} ({why})")
    for folder, why in kept:
        print(f"kept {folder} ({why})", file=sys.stderr)
    if not removed:
        print("nothing to prune: no dead partial runs")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spike", description="Spike Playbook: the spike handbook as notebooks.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the playbook for a spike as of a moment")
    p.add_argument("--spike", help="spike name (playbook/spikes/<name>.yaml); optional with --resume")
    p.add_argument("--as-of", dest="as_of", help="moment to evaluate at, e.g. '2025-03-09 12:00' (spike time zone); default: the spike's default_as_of")
    p.add_argument("--chapters", help="comma-separated chapter ids, e.g. 01,02 (their upstream chapters are added)")
    p.add_argument("--workers", type=int, help="chapters run at once (default from playbook.yaml; 2 suits 2 cores)")
    p.add_argument("--records", help="records root (default: records/ or $SPIKE_RECORDS)")
    p.add_argument("--resume", help="a run id: reuse its successful chapters, run the rest")
    p.add_argument("--timeout", type=float, help="per-chapter execution timeout in seconds")
    p.add_argument("--no-prewarm", action="store_true", help="start each chapter's kernel only when it is needed")
    p.add_argument("--executor", choices=["local", "dask"], help="where chapters run: local worker processes (default) "
                   "or a Dask distributed cluster (shared filesystem; see README)")
    p.add_argument("--scheduler", help="Dask scheduler address for --executor dask, e.g. tcp://HOST:8786 "
                   "(default $SPIKE_DASK_SCHEDULER)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("replay", help="run the playbook as of each step over a past spike; writes a timeline")
    p.add_argument("--spike", required=True)
    p.add_argument("--from", dest="start", required=True, help="first as_of, e.g. '2025-03-03 12:00'")
    p.add_argument("--to", dest="end", required=True, help="last as_of")
    p.add_argument("--every", default="1d", help="step between runs (default 1d; e.g. 12h, 2d)")
    p.add_argument("--chapters", help="comma-separated chapter ids (their upstream chapters are added)")
    p.add_argument("--records")
    p.add_argument("--workers", type=int)
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("watch", help="rerun chapters on a schedule (e.g. the hourly data room) with warm workers")
    p.add_argument("--spike", required=True)
    p.add_argument("--chapters", default="07", help="comma-separated chapter ids (default 07, the data room)")
    p.add_argument("--every", default="1h", help="time between runs (default 1h)")
    p.add_argument("--times", type=int, help="stop after this many runs (default: until interrupted)")
    p.add_argument("--as-of", dest="as_of", help="simulated clock start (runs back to back); default: now, on schedule")
    p.add_argument("--records")
    p.add_argument("--workers", type=int)
    p.set_defaults(func=_cmd_watch)

    p = sub.add_parser("list", help="runs per spike with their status")
    p.add_argument("--spike")
    p.add_argument("--records")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("show", help="the decisions a run recorded, as a short text")
    p.add_argument("run", help="run id, <spike>/<run id> or a run folder")
    p.add_argument("--records")
    p.add_argument("--json", action="store_true", help="print the whole run.json")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("scan", help="early-warning detector on any signals or Google Trends file")
    p.add_argument("file")
    p.add_argument("--as-of", dest="as_of")
    p.add_argument("--timezone", default="Asia/Shanghai", help="zone for naive timestamps (default Asia/Shanghai)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_scan)

    p = sub.add_parser("samples", help="regenerate the sample scenarios (or --check they are current)")
    p.add_argument("--check", action="store_true")
    p.add_argument("--refresh-upstream", action="store_true", help="rerun the playbook on each sample and refresh data/samples/*/upstream.json")
    p.set_defaults(func=_cmd_samples)

    p = sub.add_parser("site", help="a static HTML site of the records (open index.html, no server needed)")
    p.add_argument("--records", help="records root (default: records/ or $SPIKE_RECORDS)")
    p.add_argument("--out", help="site folder (default: <records>/.site); rebuilt in one step")
    p.add_argument("--diff", nargs=2, metavar=("RUN_A", "RUN_B"),
                   help="also compare these two runs of a spike (consecutive runs are always compared)")
    p.set_defaults(func=_cmd_site)

    p = sub.add_parser("dataroom", help="serve chapter 07 (the hourly data room) with Voila on 127.0.0.1")
    p.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    p.add_argument("--spike", help="serve this spike's data room (playbook defaults, the spike's inputs and overrides)")
    p.add_argument("--as-of", dest="as_of", help="with --spike: a time in the spike's zone, or 'now' (default: the spike's default_as_of)")
    p.set_defaults(func=_cmd_dataroom)
    p = sub.add_parser("sentiment", help="offline review sentiment (zh/en): one label and score per row of a CSV/XLSX")
    p.add_argument("file")
    p.add_argument("--text-column", dest="text_column", help="column with the review text (default: text/review/content/comment/评论/评价/内容)")
    p.add_argument("--json", action="store_true", help="JSON lines (one object per row) instead of CSV")
    p.set_defaults(func=_cmd_sentiment)
    p = sub.add_parser("patterns", help="the spike pattern library (seed entries plus spikes chapter 12 recorded)")
    p.add_argument("--records", help="records root (default: records/ or $SPIKE_RECORDS)")
    p.add_argument("--before", help="only entries made at or before this moment")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_patterns)
    p = sub.add_parser("verify", help="check a sealed run against its seal.json: missing, changed or extra files "
                       "(exit 0 intact, 1 changed)")
    p.add_argument("run", help="run id, <spike>/<run id> or a run folder")
    p.add_argument("--records", help="records root (default: records/ or $SPIKE_RECORDS)")
    p.set_defaults(func=_cmd_verify)
    p = sub.add_parser("prune", help="remove partial runs whose runner is gone (never a live one)")
    p.add_argument("--partials", action="store_true", help="remove dead partial runs under <records>/.partial")
    p.add_argument("--records", help="records root (default: records/ or $SPIKE_RECORDS)")
    p.add_argument("--spike", help="only this spike's partial runs")
    p.set_defaults(func=_cmd_prune)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SpikeError as exc:
        print(f"spike: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("spike: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
