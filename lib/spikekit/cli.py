"""The ``spike`` command: run the playbook, list and show runs, scan a signals file."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from .core.errors import ConfigError, SpikeError

MIN_TIMEOUT_S = 5.0           # below this no chapter gets past starting its kernel
MAX_TIMEOUT_S = 7 * 86400.0   # a week: larger values overflow the kernel client's timers
MAX_WORKERS = 64
EXIT_BAD_INPUT = 2            # bad options, settings or input (the message says what to fix)
EXIT_BUG = 70                 # an unexpected exception: a bug in spikekit (EX_SOFTWARE)
EXIT_BROKEN_PIPE = 141        # the reader of stdout went away (`spike show RUN | head`): 128 + SIGPIPE


# ----------------------------------------------------------------------------------------------------------
# Option types: each refuses a bad value where it is parsed, with what is wrong and what to give instead.
def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of {what}")
    return value


def _timeout(text: str) -> float:
    value = _number(text, "seconds")
    if not MIN_TIMEOUT_S <= value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"{text} seconds is out of range: give {MIN_TIMEOUT_S:g} to {MAX_TIMEOUT_S:g} seconds per chapter "
            "(0 or a negative number does not turn the timeout off), e.g. --timeout 1800")
    return value


def _whole(low: int, high: int | None, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f"{low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{what} must be {span}, got {text}")
        return value
    parse.__name__ = what  # argparse names the type in its own messages
    return parse


def _chapter_list(text: str) -> list[str]:
    """Comma-separated chapter ids, checked against the playbook later (where its path is known)."""
    items = [c.strip() for c in text.split(",")]
    if not any(items):
        raise argparse.ArgumentTypeError(f"{text!r} names no chapter. Fix: give ids such as 01,02 "
                                         "(leave the option out to run every chapter)")
    if not all(items):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty chapter id between commas. Fix: e.g. 01,02")
    return items


def _duration(text: str):
    from .engine.replay import _interval

    try:
        _interval(text)
    except SpikeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive duration. Fix: e.g. 1d, 12h, 30min") from None
    return text


def _moment(text: str):
    """A time as the pattern library compares them (naive: Asia/Shanghai, as load_library reads it)."""
    from .core.record import parse_as_of

    try:
        return parse_as_of(text, "Asia/Shanghai", what="time")
    except SpikeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _records_root(text: str) -> str:
    """A records root: it may not exist yet (a first run creates it), but if it exists it is a folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty. Fix: give a folder, e.g. --records records")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder. Fix: give the folder that holds the records")
    return text


WORKERS = _whole(1, MAX_WORKERS, "workers")


def _resolve_chapters(chapters: list[str] | None) -> list[str] | None:
    """--chapters ids as the playbook spells them ('1' is '01'); an unknown id is refused with a did-you-mean."""
    if not chapters:
        return None
    from .inputs.settings import load_playbook

    book = load_playbook()
    return [book.chapter_id(c, "--chapters") for c in chapters]


def _check_as_of(option: str, as_of: str | None, spike: str | None) -> None:
    """Check a time option in the spike's zone before anything starts; the error names the option."""
    if as_of is None or spike is None:
        return
    from .core.record import parse_as_of
    from .inputs.settings import load_spike

    parse_as_of(as_of, load_spike(spike).timezone, what=option)


def _run_spikes(args) -> list[str] | None:
    """The spikes of `spike run`: --spike a,b,c or --all (every spike file); None with only --resume."""
    from .core.paths import check_name
    from .inputs.settings import list_spikes

    if args.all:
        if args.spike:
            raise ConfigError("--all runs every spike file; --spike names some. Fix: give one of them")
        names = list_spikes()
        if not names:
            from .core.paths import playbook_dir

            raise ConfigError(f"--all found no spike file in {playbook_dir() / 'spikes'}. Fix: add one with `spike new`")
        return names
    if args.spike is None:
        return None
    names = [n.strip() for n in args.spike.split(",")]
    if not all(names):
        raise ConfigError(f"--spike {args.spike!r} has an empty name. Fix: separate spike names by single commas, "
                          "e.g. --spike starry-mug,fast-fade")
    return list(dict.fromkeys(check_name(n) for n in names))


def _cmd_run(args) -> int:
    from .engine.runner import run

    spikes = _run_spikes(args)
    if spikes is not None and (len(spikes) > 1 or args.all):
        return _cmd_run_many(args, spikes)
    if spikes:
        args.spike = spikes[0]
    chapters = _resolve_chapters(args.chapters)
    if args.scheduler and args.executor == "local":
        raise ConfigError("--scheduler is for --executor dask; a local run would ignore it. Fix: drop one of them")
    _check_as_of("--as-of", args.as_of, args.spike)
    if args.records:  # a refused records root is one error line, not a "starting" line and then an error
        from .core.paths import check_records_root
        from .engine.runner import _check_writable

        _check_writable(check_records_root(args.records))
    # Said before the heavy imports and the first kernel start, so the user sees at once that the run began.
    what = f"spike '{args.spike}'" if args.spike else f"the resumed run {args.resume}"
    print(f"spike: starting a run of {what}" + (f" as of {args.as_of}" if args.as_of else "")
          + "; chapters report as they finish", file=sys.stderr, flush=True)
    pool, tags = None, None
    if args.executor == "dask" or (args.executor is None and args.scheduler):
        from .engine.distributed import pool_for, scheduler_address

        address = scheduler_address(args.scheduler)
        pool = pool_for(address, size=args.workers, records=args.records)
        tags = {"executor": "dask", "scheduler": address}
    world = {}
    if args.replay:
        from .engine.closedloop import replay_world

        if not args.spike:
            raise ConfigError("--replay needs --spike (the replay's spike)")
        world = replay_world(args.spike, args.replay, args.records)
        tags = dict(tags or {}, replay_world=args.replay)
    try:
        outcome = run(args.spike, args.as_of, chapters=chapters, workers=args.workers, records=args.records,
                      resume=args.resume, timeout_s=args.timeout, prewarm=not args.no_prewarm, pool=pool, tags=tags,
                      # reuse by key unless --fresh; never inside a closed-loop replay's simulated world
                      reuse_earlier=not args.fresh and not args.replay,
                      progress=sys.stderr, **world)  # today's stderr, not the one bound when the runner was imported
    finally:
        if pool is not None:
            pool.close()
    m = outcome.manifest
    print(f"run {m['run_id']} of '{m['spike']}' as of {m['as_of']}: {m['status']} in {m['duration_s']:.1f}s",
          file=sys.stderr)
    _report_failures(m, outcome.run_dir)
    print(outcome.run_dir)
    return 0 if outcome.ok else 1


def _cmd_run_many(args, spikes: list[str]) -> int:
    """Several spikes on one pool of workers: one record each; a spike that cannot run does not stop the others.
    Exit 0 all ok, 1 a run with a failed chapter, 2 a spike that could not run (bad setting, input, records)."""
    from .engine.runner import run_many

    for option, value in (("--resume", args.resume), ("--replay", args.replay)):
        if value:
            raise ConfigError(f"{option} is for one spike; this run names {len(spikes)}. Fix: run that spike alone")
    chapters = _resolve_chapters(args.chapters)
    if args.scheduler and args.executor == "local":
        raise ConfigError("--scheduler is for --executor dask; a local run would ignore it. Fix: drop one of them")
    for name in spikes:  # a malformed --as-of is one error for all, not one per spike
        try:
            _check_as_of("--as-of", args.as_of, name)
        except ConfigError as exc:
            if "--as-of" in str(exc):
                raise
    if args.records:
        from .core.paths import check_records_root
        from .engine.runner import _check_writable

        _check_writable(check_records_root(args.records))
    print(f"spike: starting runs of {len(spikes)} spikes ({', '.join(spikes)})"
          + (f" as of {args.as_of}" if args.as_of else "") + " on one pool; chapters report as they finish",
          file=sys.stderr, flush=True)
    pool, tags = None, None
    if args.executor == "dask" or (args.executor is None and args.scheduler):
        from .engine.distributed import pool_for, scheduler_address

        address = scheduler_address(args.scheduler)
        pool = pool_for(address, size=args.workers, records=args.records)
        tags = {"executor": "dask", "scheduler": address}
    try:
        outcomes = run_many(spikes, args.as_of, chapters=chapters, workers=args.workers, records=args.records,
                            timeout_s=args.timeout, prewarm=not args.no_prewarm, pool=pool, tags=tags,
                            progress=sys.stderr, reuse_earlier=not args.fresh)
    finally:
        if pool is not None:
            pool.close()
    code = 0
    for outcome in outcomes:
        m = outcome.manifest
        if outcome.error is not None:
            message, exit_code = _describe(outcome.error)
            _print_error(f"spike '{m['spike']}' did not run: {message}")
            code = max(code, exit_code)
            continue
        print(f"run {m['run_id']} of '{m['spike']}' as of {m['as_of']}: {m['status']} in {m['duration_s']:.1f}s",
              file=sys.stderr)
        _report_failures(m, outcome.run_dir)
        print(outcome.run_dir)
        if not outcome.ok:
            code = max(code, 1)
    return code


def _cmd_replay(args) -> int:
    from .engine.replay import replay

    chapters = _resolve_chapters(args.chapters)
    _check_as_of("--from", args.start, args.spike)
    _check_as_of("--to", args.end, args.spike)
    if args.follow:
        from .engine.closedloop import follow_replay

        done = follow_replay(args.spike, args.start, args.end, every=args.every, chapters=chapters,
                             records=args.records, workers=args.workers, seed=args.seed, progress=sys.stderr)
        o = done.outcome
        print(f"closed-loop replay of '{args.spike}': cost of lost + leftover units: playbook "
              f"{o['playbook']['cost_lost_plus_leftover']:,.0f}, handbook {o['handbook']['cost_lost_plus_leftover']:,.0f}, "
              f"hindsight {o['hindsight']['cost_lost_plus_leftover']:,.0f}; {len(o['contradictions'])} contradiction(s)",
              file=sys.stderr)
        print(done.folder)
        return 0
    outcome = replay(args.spike, args.start, args.end, every=args.every, chapters=chapters, records=args.records,
                     workers=args.workers, progress=sys.stderr)
    m = outcome.manifest
    failed = [s for s in m["steps"] if s["status"] != "ok"]
    print(f"replay {m['replay_id']} of '{m['spike']}': {len(m['steps'])} steps in {m['duration_s']:.1f}s, "
          f"{len(failed)} with a failed chapter; first calls: "
          + ", ".join(f"{c}: {w or '-'}" for c, w in m["first_actions"].items()), file=sys.stderr)
    for step in failed:  # replays/<id> sits in records/<spike>/, beside the steps' runs
        _report_failures(None, outcome.folder.parent.parent / step["run_id"])
    print(outcome.folder)
    return 0 if not failed else 1


def _cmd_watch(args) -> int:
    from .engine.replay import watch

    chapters = _resolve_chapters(args.chapters)
    _check_as_of("--as-of", args.as_of, args.spike)
    folders = watch(args.spike, every=args.every, chapters=chapters, times=args.times, as_of=args.as_of,
                    records=args.records, workers=args.workers, progress=sys.stderr)
    failed = [folder for folder in folders if _report_failures(None, folder)]
    for folder in folders:
        print(folder)
    return 1 if failed else 0


def _cmd_list(args) -> int:
    from .engine.runner import list_runs

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
    from .engine.runner import load_run
    from .views.summary import describe_run

    folder, manifest = load_run(args.run, args.records)
    if args.json:
        print(json.dumps(manifest, ensure_ascii=False, indent=1))
    else:
        print(describe_run(manifest, folder))
    return 0


def _cmd_scan(args) -> int:
    from .chapters import early_warning_scan as scanstream, early_warning as signals
    from .core.record import parse_as_of
    from .inputs.settings import check_timezone

    check_timezone(args.timezone, "--timezone")
    as_of = None if args.as_of is None else parse_as_of(args.as_of, args.timezone, what="--as-of")
    # Read and reduced chunk by chunk: memory grows with series x days, not with rows.
    scanstream.keep_freed_memory()
    alerts, info = scanstream.scan_file(args.file, as_of=as_of, settings=signals.DetectorSettings(tz=args.timezone))
    # Say the moment the scan judged at (given, or the file's newest row), and warn when the file is old for it.
    used = as_of if as_of is not None else info["as_of"]
    print(f"spike scan: as of {used:%Y-%m-%d %H:%M %Z}" + (" (the file's newest row)" if as_of is None else ""),
          file=sys.stderr)
    if as_of is not None:
        from .inputs.check import freshness

        fresh = freshness(info, "signals", as_of)
        if fresh and fresh.get("note"):
            _say(f"spike: warning: stale input: {fresh['note']}")
    if args.json:
        print(json.dumps(signals.alerts_to_json(alerts), ensure_ascii=False, indent=1))
    else:
        print(signals.format_alerts(alerts, limit=args.limit))
    return 0


def _cmd_check(args) -> int:
    """Every input of every chapter in one pass; exit 0 when no file is invalid (missing tables are not a failure)."""
    from .inputs.check import check_spike, format_report

    _check_as_of("--as-of", args.as_of, args.spike)
    report = check_spike(args.spike, args.as_of)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(format_report(report))
    for key, table in report["tables"].items():
        if table.get("note"):
            _say(f"spike: warning: stale input '{key}': {table['note']}")
    if report["invalid_files"]:
        _print_error(f"{len(report['invalid_files'])} invalid input file(s) of spike '{report['spike']}': "
                     + "; ".join(report["tables"][k]["problem"]["message"] for k in report["invalid_files"]))
        return EXIT_BAD_INPUT
    return 0


def _cmd_samples(args) -> int:
    from . import samples

    if args.refresh_upstream and args.check:
        raise ConfigError("--check and --refresh-upstream do different things: give one of them")
    if args.refresh_upstream:
        from .engine.fixtures import refresh_upstream_fixtures

        for path in refresh_upstream_fixtures():
            print(path)
        return 0
    return samples.main(["--check"] if args.check else [])


def _cmd_site(args) -> int:
    from .views.site import build_site

    outcome = build_site(args.records, args.out, diff=tuple(args.diff) if args.diff else None)
    print(f"site of the records: {len(outcome.pages)} pages; open {outcome.index.as_uri()}", file=sys.stderr)
    if outcome.diff_page is not None:
        print(outcome.diff_page)
    print(outcome.index)
    return 0


def _cmd_diff(args) -> int:
    from .engine.runner import load_run
    from .views.site import diff_runs, diff_text

    (_, a), (_, b) = load_run(args.run_a, args.records), load_run(args.run_b, args.records)
    d = diff_runs(a, b)
    if args.json:
        flipped = [c for c in d["chapters"] if c["decision_changed"]]
        print(json.dumps({"a": a.get("run_id"), "b": b.get("run_id"), "as_of": list(d["as_of"]),
                          "decisions_flipped": flipped, "parameters": d["parameters"], "inputs": d["inputs"],
                          "chapters": d["chapters"]}, ensure_ascii=False, indent=1, default=str))
    else:
        print(diff_text(d, str(a.get("run_id")), str(b.get("run_id"))))
    return 0


def _cmd_dataroom(args) -> int:
    import os

    from .views.dataroom import voila_command

    if args.as_of and not args.spike:
        raise ConfigError("--as-of needs --spike: without a spike the data room shows the notebook's sample "
                          "defaults and would ignore it. Fix: add --spike NAME")
    if args.as_of and args.as_of.strip().lower() != "now":
        _check_as_of("--as-of", args.as_of, args.spike)
    from .views.dataroom import prepare_notebook

    notebook = prepare_notebook(args.spike or None, args.as_of)  # the call and the controls on top
    command = voila_command(args.port, notebook)
    what = f"spike {args.spike}, as of {args.as_of or 'its default'}" if args.spike else "the notebook's defaults"
    print(f"data room (chapter 07, {what}) on http://127.0.0.1:{args.port}/ ; Ctrl-C stops it",
          file=sys.stderr, flush=True)
    os.execv(command[0], command)  # voila takes over this process: signals reach it directly
    return 0


def _cmd_sentiment(args) -> int:
    from .core.sentiment import score_file

    result = score_file(args.file, args.text_column)
    if args.json:  # JSON lines: one object per input row, in input order
        for record in result.to_dict(orient="records"):
            print(json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}, ensure_ascii=False))
    else:
        sys.stdout.write(result.to_csv(index=False, lineterminator="\n"))
    return 0


def _cmd_import(args) -> int:
    from .inputs.importers import run_cli

    return run_cli(args)


def _cmd_patterns(args) -> int:
    from .core.paths import playbook_dir, records_root
    from .core.patterns import load_library

    records = Path(args.records).resolve() if args.records else records_root()
    library = load_library(records, playbook_dir() / "patterns", before=args.before)
    if args.json:
        print(json.dumps(library.drop(columns=["shape"]).to_dict(orient="records"), ensure_ascii=False, indent=1,
                         default=str))
        return 0
    if library.empty:
        print("the pattern library is empty (python -m spikekit.chapters.retrospective --write-seeds writes the seed spikes)")
        return 0
    print(f"{'spike':<20} {'peak day':>8} {'life days':>9}  {'as of':<20} source")
    for row in library.to_dict(orient="records"):
        peak = "-" if row["peak_day"] is None else f"{float(row['peak_day']):.1f}"
        life = "-" if row["life_days"] is None else f"{float(row['life_days']):.1f}"
        print(f"{row['spike']:<20} {peak:>8} {life:>9}  {str(row['as_of'])[:19]:<20} {row['source']}")
    return 0


def _cmd_approve(args) -> int:
    import getpass

    from .engine.runner import load_run
    from .inputs.settings import load_spike
    from .inputs.state import approve, ledger_folder

    folder, manifest = load_run(args.run, args.records)
    spike = load_spike(manifest["spike"])
    chapters = _resolve_chapters(args.chapter)
    by = args.by or getpass.getuser()
    if args.at is not None:
        from .core.record import parse_as_of

        parse_as_of(args.at, spike.timezone, what="--at")
    added = approve(manifest, ledger_folder(spike), by=by, at=args.at, chapters=chapters, tz=spike.timezone)
    where = ledger_folder(spike)
    if not any(added.values()):
        print(f"run {manifest['run_id']} proposes nothing to approve" + (f" in chapter(s) {', '.join(chapters)}"
              if chapters else ""), file=sys.stderr)
        return 0
    print(f"approved run {manifest['run_id']} of '{spike.name}' (as of {manifest['as_of']}) by {by}: "
          f"{added['purchase_orders']} purchase-order line(s), {added['approvals']} approval(s) appended to the "
          f"ledger data/{where}/", file=sys.stderr)
    print(where)
    return 0


def _cmd_new(args) -> int:
    from .inputs.newspike import create_spike

    made = create_spike(args.name, product=args.product, keywords=args.keywords,
                        search_platform=args.search_platform, timezone=args.timezone)
    print(f"spike '{made.name}' made: {made.spike_file} and {len(made.tables)} table templates in {made.folder}. "
          f"Next: read {made.folder / 'README.md'} (which chapters need which tables), replace each template's "
          f"example row with your data, delete the tables you do not have, then: spike run --spike {made.name}",
          file=sys.stderr)
    print(made.folder)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (like every other error of the command) instead of usage + error."""

    def error(self, message: str):
        _print_error(f"{message}. See '{self.prog} --help'", prog=self.prog)
        raise SystemExit(EXIT_BAD_INPUT)


def _cmd_verify(args) -> int:
    from .core.errors import ConfigError
    from .core.record import read_manifest
    from .engine.runner import locate_run_folder
    from .engine.seal import verify

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
    from .core.errors import ConfigError
    from .engine.runner import prune_partials

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
    parser = _Parser(prog="spike", description="Spike Playbook: the spike handbook as notebooks.",
                     epilog="Errors print one line (wrapped on a terminal) and exit 2; SPIKE_DEBUG=1 adds the traceback.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the playbook for a spike as of a moment")
    p.add_argument("--spike", help="spike name (playbook/spikes/<name>.yaml), or several: a,b,c (their chapters share "
                   "one pool of --workers; one record each); optional with --resume")
    p.add_argument("--all", action="store_true", help="every spike file in playbook/spikes/, on one pool")
    p.add_argument("--as-of", dest="as_of", help="moment to evaluate at, e.g. '2025-03-09 12:00' (spike time zone); default: the spike's default_as_of")
    p.add_argument("--chapters", type=_chapter_list,
                   help="comma-separated chapter ids, e.g. 01,02 or 1,2 (their upstream chapters are added)")
    p.add_argument("--workers", type=WORKERS, help="chapters run at once, 1-64 (default from playbook.yaml; 2 suits 2 cores)")
    p.add_argument("--records", type=_records_root, help="records root (default: records/ or $SPIKE_RECORDS)")
    p.add_argument("--resume", help="a run id: reuse its successful chapters whose key still matches, run the rest")
    p.add_argument("--fresh", action="store_true", help="run every chapter: reuse nothing from earlier runs (with --resume: only "
                   "the resumed run's chapters); default: a chapter whose key (notebook, library, parameters, inputs as "
                   "of T, upstream keys) matches an earlier run's is reused")
    p.add_argument("--timeout", type=_timeout, help=f"per-chapter execution timeout in seconds, {MIN_TIMEOUT_S:g} or more "
                   "(default from playbook.yaml)")
    p.add_argument("--no-prewarm", action="store_true", help="start each chapter's kernel only when it is needed")
    p.add_argument("--replay", help="run in the simulated world (sales and ledger) of this closed-loop replay id")
    p.add_argument("--executor", choices=["local", "dask"], help="where chapters run: local worker processes (default) "
                   "or a Dask distributed cluster (shared filesystem; see README)")
    p.add_argument("--scheduler", help="Dask scheduler address for --executor dask, e.g. tcp://HOST:8786 "
                   "(default $SPIKE_DASK_SCHEDULER)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("new", help="a new spike of your own: its spike file and a data folder with a template per "
                       "table and a checklist of which chapters need which")
    p.add_argument("name", help="spike name: lower-case letters, digits, '.', '_', '-' (playbook/spikes/<name>.yaml)")
    p.add_argument("--product", help="the product's name as in your orders table, e.g. 猫爪杯 (chapters 08, 11, 12)")
    p.add_argument("--keywords", help="comma-separated keywords chapter 01 watches, e.g. 猫爪杯,猫爪 (default: the product)")
    p.add_argument("--search-platform", dest="search_platform",
                   help="marketplace whose searches for the first keyword chapter 06 watches, as named in your signals "
                   "table, e.g. 淘宝 (default: none; chapter 06 watches daily orders)")
    p.add_argument("--timezone", help="IANA time zone of the shop's times (default from playbook.yaml)")
    p.set_defaults(func=_cmd_new)

    p = sub.add_parser("replay", help="run the playbook as of each step over a past spike; writes a timeline")
    p.add_argument("--spike", required=True)
    p.add_argument("--from", dest="start", required=True, help="first as_of, e.g. '2025-03-03 12:00'")
    p.add_argument("--to", dest="end", required=True, help="last as_of")
    p.add_argument("--every", default="1d", type=_duration, help="step between runs (default 1d; e.g. 12h, 2d)")
    p.add_argument("--chapters", type=_chapter_list, help="comma-separated chapter ids (their upstream chapters are added)")
    p.add_argument("--records", type=_records_root)
    p.add_argument("--workers", type=WORKERS)
    p.add_argument("--follow", action="store_true", help="closed loop: approve each step's proposals into a simulated "
                   "shop that sells the scenario's true demand; scores playbook, handbook and hindsight (outcome.json)")
    p.add_argument("--seed", type=int, default=20250401, help="with --follow: seed of the daily demand draws")
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("watch", help="rerun chapters on a schedule (e.g. the hourly data room) with warm workers")
    p.add_argument("--spike", required=True)
    p.add_argument("--chapters", default="07", type=_chapter_list, help="comma-separated chapter ids (default 07, the data room)")
    p.add_argument("--every", default="1h", type=_duration, help="time between runs (default 1h)")
    p.add_argument("--times", type=_whole(1, None, "runs"), help="stop after this many runs, 1 or more (default: until interrupted)")
    p.add_argument("--as-of", dest="as_of", help="simulated clock start (runs back to back); default: now, on schedule")
    p.add_argument("--records", type=_records_root)
    p.add_argument("--workers", type=WORKERS)
    p.set_defaults(func=_cmd_watch)

    p = sub.add_parser("list", help="runs per spike with their status")
    p.add_argument("--spike")
    p.add_argument("--records", type=_records_root)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("show", help="the decisions a run recorded, as a short text")
    p.add_argument("run", help="run id, <spike>/<run id> or a run folder")
    p.add_argument("--records", type=_records_root)
    p.add_argument("--json", action="store_true", help="print the whole run.json")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("scan", help="early-warning detector on any signals or Google Trends file")
    p.add_argument("file")
    p.add_argument("--as-of", dest="as_of")
    p.add_argument("--timezone", default="Asia/Shanghai", help="zone for naive timestamps (default Asia/Shanghai)")
    p.add_argument("--limit", type=_whole(1, None, "alerts"), default=20, help="alerts listed (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_scan)

    p = sub.add_parser("check", help="check every input of every chapter at once: ready / missing / invalid, stale")
    p.add_argument("--spike", required=True)
    p.add_argument("--as-of", dest="as_of", help="moment the staleness is judged at (default: the spike's "
                   "default_as_of, else now)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("samples", help="regenerate the sample scenarios (or --check they are current)")
    p.add_argument("--check", action="store_true")
    p.add_argument("--refresh-upstream", action="store_true", help="rerun the playbook on each sample and refresh data/samples/*/upstream.json")
    p.set_defaults(func=_cmd_samples)

    p = sub.add_parser("site", help="a static HTML site of the records (open index.html, no server needed)")
    p.add_argument("--records", type=_records_root, help="records root (default: records/ or $SPIKE_RECORDS)")
    p.add_argument("--out", help="site folder (default: <records>/.site); rebuilt in one step")
    p.add_argument("--diff", nargs=2, metavar=("RUN_A", "RUN_B"),
                   help="also compare these two runs of a spike (consecutive runs are always compared)")
    p.set_defaults(func=_cmd_site)

    p = sub.add_parser("diff", help="what changed between two runs: decisions that flipped, parameters, inputs",
                       epilog="example: spike diff starry-mug/<RUN_A> starry-mug/<RUN_B>")
    p.add_argument("run_a", metavar="RUN_A", help="run id, <spike>/<run id> or a run folder")
    p.add_argument("run_b", metavar="RUN_B", help="the run to compare it with")
    p.add_argument("--records", type=_records_root)
    p.add_argument("--json", action="store_true", help="the differences as JSON")
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser("dataroom", help="serve chapter 07 (the hourly data room) with Voila on 127.0.0.1")
    p.add_argument("--port", type=_whole(1, 65535, "port"), default=8866, help="TCP port, 1-65535 (default 8866)")
    p.add_argument("--spike", help="serve this spike's data room (playbook defaults, the spike's inputs and overrides)")
    p.add_argument("--as-of", dest="as_of", help="with --spike: a time in the spike's zone, or 'now' (default: the spike's default_as_of)")
    p.set_defaults(func=_cmd_dataroom)
    p = sub.add_parser("sentiment", help="offline review sentiment (zh/en): one label and score per row of a CSV/XLSX")
    p.add_argument("file")
    p.add_argument("--text-column", dest="text_column", help="column with the review text (default: text/review/content/comment/评论/评价/内容)")
    p.add_argument("--json", action="store_true", help="JSON lines (one object per row) instead of CSV")
    p.set_defaults(func=_cmd_sentiment)
    p = sub.add_parser("import", help="a platform's export (Shopify, WooCommerce, Taobao 订单报表, 抖店, Google Trends, "
                       "a daily product panel) -> the playbook's table in the spike's data folder, with a report")
    p.add_argument("file", help="the export as downloaded (CSV in UTF-8 or GBK, or XLSX)")
    p.add_argument("--spike", required=True, help="the spike whose data folder gets the table")
    p.add_argument("--kind", choices=("orders", "sales", "traffic", "reviews", "signals"),
                   help="the table to write (default: the layout's own; forces an unknown layout to be read as it)")
    p.add_argument("--out", help="where to write it, under the data folder (default: the spike's data: file for "
                   "the table, else <spike>/<table>.csv)")
    p.add_argument("--product", help="for daily sales from a file with several products: which one (part of the "
                   "name, or a panel's product id)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_import)
    p = sub.add_parser("approve", help="append a run's proposals (orders, brakes, markdown, budget moves, kit, "
                       "financing, exit) to the spike's ledger, so later runs see them")
    p.add_argument("run", help="run id, <spike>/<run id> or a run folder")
    p.add_argument("--chapter", type=_chapter_list, help="only these chapters' proposals, e.g. 03 or 03,06 (default: all)")
    p.add_argument("--by", help="who approves (default: the login name)")
    p.add_argument("--at", help="when it was approved, in the spike's time zone (default: the run's as_of)")
    p.add_argument("--records", type=_records_root, help="records root (default: records/ or $SPIKE_RECORDS)")
    p.set_defaults(func=_cmd_approve)
    p = sub.add_parser("patterns", help="the spike pattern library (seed entries plus spikes chapter 12 recorded)")
    p.add_argument("--records", type=_records_root, help="records root (default: records/ or $SPIKE_RECORDS)")
    p.add_argument("--before", type=_moment, help="only entries made at or before this moment (naive: Asia/Shanghai)")
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
    _describe_subcommands(sub)
    return parser


# One example per subcommand, shown under its --help (a test checks every subcommand has one).
EXAMPLES = {
    "run": 'spike run --spike starry-mug --as-of "2025-03-09 12:00"',
    "new": "spike new cat-cup --product 猫爪杯 --keywords 猫爪杯,猫爪",
    "replay": 'spike replay --spike starry-mug --from "2025-03-05 12:00" --to "2025-03-09 12:00"',
    "watch": "spike watch --spike starry-mug --every 1h --times 3",
    "list": "spike list --spike starry-mug",
    "show": "spike show RUN | head",
    "scan": "spike scan data/samples/starry-mug/signals.csv --as-of \"2025-03-09 12:00\"",
    "check": "spike check --spike starry-mug --json",
    "samples": "spike samples --check",
    "site": "spike site --out site/",
    "dataroom": "spike dataroom --spike starry-mug --as-of now --port 8866",
    "sentiment": "spike sentiment reviews.csv --text-column 评价 --json",
    "import": "spike import --spike my-mug orders_export.csv --kind orders",
    "approve": 'spike approve RUN --by "运营 小王" --chapter 03',
    "patterns": 'spike patterns --before "2025-03-01"',
    "verify": "spike verify RUN",
    "diff": "spike diff RUN_A RUN_B --json",
    "prune": "spike prune --partials --spike starry-mug",
}


def _describe_subcommands(sub) -> None:
    """Each subcommand's --help opens with its one-line purpose and ends with an example."""
    purposes = {action.dest: action.help for action in sub._choices_actions}
    for name, parser in sub.choices.items():
        parser.description = purposes.get(name)
        if name in EXAMPLES:
            parser.epilog = f"example:\n  {EXAMPLES[name]}"
        parser.formatter_class = argparse.RawDescriptionHelpFormatter


# ----------------------------------------------------------------------------------------------------------
# What the user reads when something goes wrong: the whole message (never cut), what, where and the fix.
def _say(text: str, stream=None) -> None:
    """Print a message whole; on a terminal, wrap it at word boundaries to the window's width."""
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        import shutil
        import textwrap

        width = max(shutil.get_terminal_size().columns - 1, 40)
        text = "\n".join(
            "\n".join(textwrap.wrap(line, width=width, break_long_words=False, break_on_hyphens=False,
                                    subsequent_indent="    ")) or line
            for line in text.split("\n"))
    print(text, file=stream, flush=True)


def _print_error(message: str, prog: str = "spike") -> None:
    _say(f"{prog}: error: {message}")


def _report_failures(manifest: dict | None, run_dir: Path) -> bool:
    """Say each failed chapter's whole error and where its notebook and the run's record are; True if any."""
    run_dir = Path(run_dir)
    if manifest is None:
        try:
            manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
    failed = [(cid, ch) for cid, ch in (manifest.get("chapters") or {}).items() if ch.get("status") == "failed"]
    for cid, chapter in failed:
        err = chapter.get("error") or {}
        cell = f" in cell {err['cell']}" if err.get("cell") is not None else ""
        _say(f"spike: chapter {cid} failed{cell}: {err.get('ename')}: {err.get('evalue')}")
        if chapter.get("notebook"):
            _say(f"spike:   its executed notebook: {run_dir / chapter['notebook']}")
    if failed:
        _say(f"spike: the failed run's record: {run_dir}")
    return bool(failed)


def _file_in_traceback(exc: BaseException, content: bytes | None = None) -> str | None:
    """The file being read when ``exc`` was raised (decode errors carry no path), from the raising frames' locals.

    ``content``: what failed to decode; a file (or a file in a folder) named by a local and holding exactly these
    bytes is the one. Otherwise the innermost local that names a file.
    """
    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    named: list[Path] = []
    for frame in reversed(frames):  # innermost first: the closest reader knows its file
        for value in list(frame.f_locals.values()):
            if isinstance(value, (str, os.PathLike)) and len(os.fspath(value)) < 4096:
                try:
                    path = Path(value)
                    if path.is_file():
                        named.append(path)
                    elif path.is_dir() and content is not None:
                        named.extend(p for p in sorted(path.iterdir())[:200] if p.is_file())
                except (OSError, ValueError, TypeError):
                    continue
    if content is not None:
        for path in named:
            try:
                if path.stat().st_size == len(content) and path.read_bytes() == content:
                    return str(path)
            except OSError:
                continue
    return f"a file (probably {named[0]})" if named else None


def _describe_os_error(exc: OSError) -> str:
    import errno

    fixes = {
        errno.ENOSPC: "the disk is full: free some space, or give --records on another disk, and run again",
        errno.EDQUOT: "your disk quota is used up: free some space, or give --records elsewhere, and run again",
        errno.EACCES: "check you may read or write it (ls -l), or choose another place (e.g. --records DIR)",
        errno.EPERM: "check you may read or write it (ls -l), or choose another place (e.g. --records DIR)",
        errno.EROFS: "that file system is read-only: choose a writable place (e.g. --records DIR)",
        errno.ENOTDIR: "a part of that path is a file, not a folder: check the path (e.g. --records DIR)",
        errno.EISDIR: "that is a folder: give a file",
        errno.ENOENT: "check the path: it does not exist",
        errno.EEXIST: "something is already there: remove it or choose another name",
        errno.EMFILE: "too many files are open: raise the limit (ulimit -n) or run fewer --workers",
        errno.ENAMETOOLONG: "the path is too long: choose a shorter one",
    }
    paths = [p for p in (exc.filename, exc.filename2) if p is not None]
    where = " -> ".join(os.fspath(p) if isinstance(p, (str, os.PathLike)) else repr(p) for p in paths)
    what = exc.strerror or type(exc).__name__
    fix = fixes.get(exc.errno, "check the path and the disk, then run again")
    return f"{what}: {where or '(the system named no path)'}. Fix: {fix}"


def _describe(exc: Exception) -> tuple[str, int]:
    """One line for an exception that reached the command: (message, exit code)."""
    if isinstance(exc, SpikeError):
        return str(exc), EXIT_BAD_INPUT
    if isinstance(exc, UnicodeDecodeError):
        raw = bytes(exc.object) if isinstance(exc.object, (bytes, bytearray)) else None
        where = _file_in_traceback(exc, raw) or "a file"
        bad = exc.object[exc.start:exc.start + 1] if isinstance(exc.object, (bytes, bytearray)) else b""
        return (f"{where} is not {exc.encoding} text: byte {bad.hex() or '?'} at offset {exc.start} ({exc.reason}). "
                "Fix: save it as UTF-8", EXIT_BAD_INPUT)
    if isinstance(exc, json.JSONDecodeError):
        where = _file_in_traceback(exc, exc.doc.encode("utf-8")) or "a JSON file"
        return (f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
                "Fix: restore or regenerate that file", EXIT_BAD_INPUT)
    if type(exc).__module__.split(".")[0] == "yaml":
        mark = getattr(exc, "problem_mark", None)
        where = _file_in_traceback(exc) or getattr(mark, "name", None) or "a YAML file"
        return f"{where} is not valid YAML: {' '.join(str(exc).split())}. Fix: correct that line", EXIT_BAD_INPUT
    if isinstance(exc, OSError):
        return _describe_os_error(exc), EXIT_BAD_INPUT
    # Anything else (a bare ValueError too: options are checked by their parsers and input by the contracts,
    # which raise SpikeErrors) means the code missed a case.
    return (f"unexpected {type(exc).__name__}: {str(exc).rstrip('.')}. This is a bug in spikekit: please report "
            "it with the command you ran (SPIKE_DEBUG=1 shows the traceback)", EXIT_BUG)


def _stdout_went_away() -> int:
    """The reader closed stdout (``spike show RUN | head``): stop quietly, as the Python docs' recipe does.

    Point stdout at /dev/null so the interpreter's final flush does not fail a second time.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a file (tests capture it)
        pass
    return EXIT_BROKEN_PIPE


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit 0 ok, 1 a run with a failed chapter, 2 bad options/settings/input (one error line),
    70 a bug (set SPIKE_DEBUG=1 for the traceback), 130 interrupted, 141 stdout closed early."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or an option error argparse has printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_BAD_INPUT)
    try:
        code = int(args.func(args) or 0)
        # Flush here, not at interpreter exit: a reader that went away (`spike show RUN | head`) shows up as a
        # BrokenPipeError this handler can still turn into a quiet exit, instead of an "Exception ignored" trace.
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _stdout_went_away()
    except KeyboardInterrupt:
        print("spike: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place every error becomes a message and an exit code
        message, code = _describe(exc)
        _print_error(message)
        if os.environ.get("SPIKE_DEBUG", "") not in ("", "0"):
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
