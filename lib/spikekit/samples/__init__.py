"""Sample scenarios whose truth is known: seeded, realistic input tables plus the answer key.

Every scenario tells one story about the same small shop and its 星空杯 (starry mug) idea, and writes
into ``data/samples/<name>/``:

- ``signals.csv``    hourly interaction / search counts per keyword x platform (the chapter 01 input);
- ``validation.csv`` the 48-hour validation test and the shop's usual baseline (the chapter 02 input);
- ``demand.csv``     the true demand curve in units per day (what no chapter can see directly);
- ``suppliers.csv``, ``stock.csv``, ``warehouses.csv``, ``lanes.csv``, ``regional_demand.csv``
  the shop's supply side (chapters 03-05): fixed, hand-checkable tables, plus the story's changes;
- ``urgent_orders.csv`` promised-time orders near a warehouse, drawn around true demand (chapter 05);
- ``sales.csv``      daily orders around true demand with a few discount days (chapter 06: decline, price response);
- ``traffic.csv``, ``funnel.csv``, ``audience.csv``, ``budget.csv`` the hourly data room (chapter 07): visitors
  per platform x source, the view -> cart -> order funnel built on those visitors, 12-hour audience mix, ad budget;
- ``posts.csv``      content posts per format x platform with views, clicks and orders (chapter 08);
- ``cash.csv``, ``settlement.csv``, ``supplier_terms.csv``, ``financing.csv`` the shop's money, the platforms'
  settlement terms, the suppliers' payment terms and the financing offers (chapter 09);
- ``orders.csv``, ``returns.csv``, ``tickets.csv``, ``faq.csv``, ``reviews.csv``, ``inspections.csv``,
  ``members.csv``, ``member_activity.csv`` after-sales and retention (chapters 11-12), 2025-01-15 to 2025-05-15:
  the spike product's orders (sales.csv's daily counts) and the shop's other products, shipping through a
  stock queue, returns from a logistic truth, tickets surging with the spike, reviews, QC rounds per batch,
  the community and its activity;
- ``truth.json``     the story, the dates that matter and the decisions the playbook should reach.

How the data are made, so a reader can check a test's expectation by hand:

- Interest on each platform follows a smooth rise-and-fall pulse (see `Pulse`) that leads true demand
  by a lag; 淘宝 searches move with demand itself. A series' expected hourly count is
  ``base level x hour-of-day profile x day-of-week profile x (1 + amplitude x pulse)``, times a
  mean-one day-to-day factor; counts are negative-binomial draws around it (overdispersed).
- Hourly rows are stamped at the END of the hour they count (the row ``10:00:00`` counts 09:00-10:00),
  so a row with timestamp <= as_of is complete at as_of. Daily baseline rows carry the date they
  count; poll invitations are stamped when sent, answers and design votes when the poll closed.
- Each table draws from its own random stream (scenario seed + table name), so adding a table later
  leaves the existing files byte-identical. To extend a scenario: add a ``make_<table>`` function,
  register it in `TABLE_MAKERS`, and add any story parameters to `Scenario`.

``python -m spikekit.samples`` regenerates the committed files; ``--check`` regenerates them into a
temporary folder and fails if anything differs. ``python -m spikekit.samples new NAME --seed N --shape S``
makes a further scenario of the same shop from a seed and a shape (`SHAPES`) under
``data/generated/<name>/``, with a spike file (see `new_scenario` and `create`). Output is byte-identical for the same seed on the same
numpy / scipy versions (numpy does not promise identical random streams across its releases: after an
upgrade that changes them, regenerate and commit).

The package holds one module per table family (signals, supply, sales, traffic, posts, cash, aftersales) over
the shop (`shop`) and the stories (`story`), plus the answer key (`truth`) and the scenarios on demand
(`generated`); writing and checking the files is here. Every name is importable from ``spikekit.samples``.
"""
from __future__ import annotations

# The modules the flat samples.py imported stay attributes of the package, as before (tests patch os.replace).
import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy.optimize import brentq, linprog

from ..core.errors import ConfigError, SpikeError
from ..core.paths import check_name, data_root as default_data_root, playbook_dir as default_playbook_dir, resolve_under

from .shop import (  # noqa: E402,F401
    AUDIENCE_MIX,
    AUDIENCE_SEGMENTS,
    AUDIENCE_WINDOW_HOURS,
    AudienceShift,
    BASELINE_CART_SIZE,
    BASE_PER_HOUR,
    CASH_GAP_TOLERANCE_DAYS,
    CASH_HORIZON_DAYS,
    CASH_ITEMS,
    CONTROL_KEYWORDS,
    COURIER_BASE,
    COURIER_PER_KM,
    DATA_END,
    DATA_ROOM_DAYS_AFTER_AS_OF,
    DATA_ROOM_PLATFORMS,
    DATA_START,
    DAY,
    DECLINE_DAYS,
    DECLINE_DROP,
    DECLINE_SMOOTHINGS,
    DEFAULT_AD_BUDGET,
    DEFAULT_CASH,
    DEFAULT_FUNNEL_RATES,
    DEFAULT_REGIONAL_SHARES,
    DESIGNS,
    EVENING_SURGE,
    FINANCING,
    HANDBOOK_MOVE_SHARE,
    HOUR,
    HOURLY_STAMP_AT_END,
    KEYWORD_GROUPS,
    LANES,
    LIVE_HOURS,
    LUCKY_POST,
    METRIC_BY_PLATFORM,
    NORMAL_COST_PER_ORDER,
    PLATFORMS,
    POLL_OPEN_HOURS,
    POLL_RATE_CONCENTRATION,
    POLL_SENT_AFTER_HOURS,
    POSTS_PER_CELL,
    POST_BASE_VIEWS,
    POST_CLICK_RATE,
    POST_FORMATS,
    POST_ORDERS_PER_CLICK,
    POST_USUAL_CONVERSION,
    POST_VIEW_SPREAD,
    POST_WAVE_SHARE,
    PRODUCT_KEYWORDS,
    REGIONS,
    SALES_DAY_SIZE,
    SAMPLES_DIR,
    SCENE_KEYWORDS,
    SETTLEMENT,
    SHOPPING_HOURS,
    SHOPPING_WEEKDAYS,
    SIGNAL_DAY_SPREAD,
    SIGNAL_HOUR_SIZE,
    SOCIAL_HOURS,
    SOCIAL_WEEKDAYS,
    STAMP_SHIFT,
    STOCK_HOLDING_COST_PER_DAY,
    STOCK_SALVAGE_VALUE,
    STOCK_UNIT_COST,
    SUPPLIERS,
    SUPPLIER_COLUMNS,
    SUPPLIER_TERMS,
    SUPPLY_HORIZON_DAYS,
    SUPPLY_RESERVE_SHARE,
    TAKEOFF_LEVEL,
    TEST_CART_SIZE,
    TIMEZONE,
    TRAFFIC_HOUR_SIZE,
    TRAFFIC_PLATFORMS,
    TRAFFIC_SOURCES,
    URGENT_FAR_KM,
    URGENT_IN_CITY_SHARE,
    URGENT_NEAR_KM,
    URGENT_PROMISES,
    URGENT_SHARE,
    UTC_OFFSET,
    WAREHOUSES,
    WAREHOUSE_REGION,
    _days,
    _hour_parts,
    _iso,
    _mean_one,
    _stamp_text,
    _weekday,
    _when,
    hourly_stamps,
)
from .story import (  # noqa: E402,F401
    AfterSales,
    Burst,
    GENERATED_DIR,
    GO_SHAPES,
    Pulse,
    SCENARIOS,
    SHAPES,
    Scenario,
    Waves,
    _SPREAD_VOTES,
    _nb_draw,
    _pulse_shape,
    _rng,
    get_scenario,
)
from .signals import (  # noqa: E402,F401
    _burst_size,
    demand_rate,
    expected_presale_per_day,
    expected_signals,
    expected_test_carts,
    make_signals,
    make_validation,
)
from .supply import (  # noqa: E402,F401
    baseline_allocation,
    cheapest_allocation,
    make_demand,
    make_lanes,
    make_regional_demand,
    make_stock,
    make_suppliers,
    make_urgent_orders,
    make_warehouses,
)
from .sales import (  # noqa: E402,F401
    daily_demand,
    decline_triggers,
    expected_daily_searches,
    expected_sales,
    make_sales,
)
from .traffic import (  # noqa: E402,F401
    audience_mix,
    audience_window_stamps,
    data_room_stamps,
    default_as_of,
    expected_traffic,
    funnel_rates,
    make_audience,
    make_budget,
    make_funnel,
    make_traffic,
    traffic_wave,
)
from .posts import (  # noqa: E402,F401
    make_posts,
    post_rates,
)
from .cash import (  # noqa: E402,F401
    cash_projection,
    effective_annual_cost,
    expected_order_mix,
    make_cash,
    make_financing,
    make_settlement,
    make_supplier_terms,
)
from .aftersales import (  # noqa: E402,F401
    ACTIVE_FIRST_WEEK_PER_DAY,
    ACTIVE_LATER_PER_DAY,
    AFTERSALES,
    AFTER_END,
    AFTER_START,
    DELIVERY_DAYS,
    FAQ_ENTRIES,
    FOLLOW_UP_PER_DAY,
    FOLLOW_UP_SUPPLIERS,
    HISTORY_ORDERS_MEAN,
    HISTORY_RETURN_SHARE,
    INACTIVE_LATER_PER_DAY,
    INSPECTION_SAMPLES,
    MEMBER_JOIN_MEAN_DAYS,
    MEMBER_LATE_JOIN_SHARE,
    MEMBER_OLD_SHARE,
    MEMBER_OTHER_JOIN_SHARE,
    OLD_CUSTOMERS,
    OLD_CUSTOMER_SHARE,
    ORDER_PLATFORMS,
    OTHER_PRODUCTS,
    OTHER_SHIP_DAYS,
    OTHER_VARIANT,
    PACK_PER_DAY,
    PROMISE_DAYS,
    REGULAR_BATCH_DAYS,
    REGULAR_BATCH_UNITS,
    REGULAR_SUPPLIER,
    RESOLVE_MEDIAN_HOURS,
    RESPONSE_MEDIAN_HOURS,
    RESTOCK_PER_DAY,
    RETRO_AS_OF,
    RETURN_DAYS,
    RETURN_MODEL,
    REVIEW_ENGLISH_SHARE,
    REVIEW_NEGATIVE_BASE,
    REVIEW_NEGATIVE_PER_DAY_LATE,
    REVIEW_NEUTRAL,
    REVIEW_SHARE,
    REVIEW_TEXTS,
    REVIEW_UNLINKED_PER_DAY,
    ROUTINE_TICKET_TYPES,
    SLOW_RESPONSE_HOURS,
    SLOW_RESPONSE_SHARE_AT_PEAK,
    SPIKE_OLD_CUSTOMER_SHARE,
    SPIKE_PRODUCT,
    SPIKE_ROUNDS,
    TICKET_BASELINE,
    TICKET_ENDINGS,
    TICKET_GREETINGS,
    TICKET_LAG_DAYS,
    TICKET_PEAK_MULTIPLE,
    TICKET_SYNONYMS,
    TICKET_TEXTS,
    _DEFECTS,
    _aftersales,
    _inspection_batches,
    _logistic,
    _minute_text,
    _service_start,
    _spike_daily_units,
    _spike_shape,
    _supply_schedule,
    _ticket_text,
    _times_in_days,
    make_faq,
    make_inspections,
    make_member_activity,
    make_members,
    make_orders,
    make_returns,
    make_reviews,
    make_tickets,
    return_probability,
    ticket_rates,
)
from .tables import (  # noqa: E402,F401
    TABLE_INPUTS,
    TABLE_MAKERS,
)
from .truth import (  # noqa: E402,F401
    CONTENT_PRIOR_VIEWS,
    _aftersales_truth,
    _cash_facts,
    _cell_name,
    _content_facts,
    _content_observed,
    _data_room_facts,
    _data_room_observed,
    _day_after,
    _exit_facts,
    _exit_observed,
    _first_gap,
    _inventory_facts,
    _logistics_facts,
    _noise_free_alert_from,
    _replay_facts,
    _stamps_of,
    _supplier_facts,
    _urgent_observed,
    make_truth,
    producible_units,
    retention_observed,
)
from .generated import (  # noqa: E402,F401
    DESIGN_SKU,
    GENERATED_DEFECTS,
    GENERATED_SPIKE_MARKER,
    PRICES,
    SAMPLE_PRODUCT_PARAMETERS,
    SOCIAL_PLATFORMS,
    SUPPLIER_NEWS_OPTIONS,
    _Draws,
    _amplitudes,
    _audience_shift,
    _day_text,
    _design_preference,
    _funnel,
    _generated_story,
    _ignore_generated_spike,
    _price_changes,
    _pulse_after,
    _regional_shares,
    _shifted,
    _story_draws,
    _text_at,
    create,
    generated_dir,
    greedy_purchases,
    new_scenario,
    spike_file_text,
)


# --------------------------------------------------------------------------------------------------
# Writing, loading, checking


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # Fixed text: UTF-8 without BOM, '\n' line ends, integers as integers, two-decimal floats.
    path.write_bytes(frame.to_csv(index=False, lineterminator="\n", float_format="%.2f").encode("utf-8"))


def _json_text(value, indent: int = 0) -> str:
    """Indented JSON with short lists of plain values kept on one line (easier to read and diff)."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_json_text(v, indent + 2)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + _json_text(v, indent + 2) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def generate(name: str, out_dir: Path | str, seed: int | None = None) -> dict[str, Path]:
    """Write one built-in scenario's files into ``out_dir`` (created if needed); returns {file name: path}.
    The same name and seed always give byte-identical files."""
    return generate_scenario(get_scenario(name), out_dir, seed)


def generate_scenario(scenario: Scenario, out_dir: Path | str, seed: int | None = None) -> dict[str, Path]:
    """Write any scenario's tables and truth.json into ``out_dir`` (created if needed); returns {file name:
    path}. ``seed`` defaults to the scenario's own; the same scenario and seed give byte-identical files."""
    seed = scenario.seed if seed is None else int(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {}
    for table, (_, maker) in TABLE_MAKERS.items():
        inputs = {name: tables[name] for name in TABLE_INPUTS.get(table, ())}
        tables[table] = maker(scenario, _rng(seed, table), **inputs)
    written = {}
    for table, (file_name, _) in TABLE_MAKERS.items():
        _write_csv(tables[table], out / file_name)
        written[file_name] = out / file_name
    truth = make_truth(scenario, tables, seed)
    (out / "truth.json").write_bytes((_json_text(truth) + "\n").encode("utf-8"))
    written["truth.json"] = out / "truth.json"
    return written


def samples_dir(data_root: Path | str | None = None) -> Path:
    root = default_data_root() if data_root is None else Path(data_root).resolve()
    return resolve_under(root, SAMPLES_DIR, "samples folder")


def generate_all(data_root: Path | str | None = None) -> dict[str, dict[str, Path]]:
    """Regenerate every scenario under ``<data_root>/samples/<name>/`` (default: the project's data/)."""
    base = samples_dir(data_root)
    return {name: generate(name, base / name) for name in SCENARIOS}


def load_truth(name: str, data_root: Path | str | None = None) -> dict:
    """The answer key of a generated scenario (``<data_root>/samples/<name>/truth.json``)."""
    check_name(name, "sample scenario")
    folder = resolve_under(samples_dir(data_root), name, "sample scenario")
    path = folder / "truth.json"
    if not path.is_file():
        known = ", ".join(SCENARIOS)
        raise ConfigError(
            f"no sample scenario {name!r} under {folder.parent}. Fix: use one of {known}, or run "
            "`python -m spikekit.samples` to (re)generate them"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def check(data_root: Path | str | None = None) -> list[str]:
    """Regenerate into a temporary folder and list every committed file that differs or is missing."""
    base = samples_dir(data_root)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SCENARIOS:
            for file_name, fresh in generate(name, Path(tmp) / name).items():
                committed = base / name / file_name
                if not committed.is_file():
                    problems.append(f"{committed}: missing")
                elif committed.read_bytes() != fresh.read_bytes():
                    problems.append(f"{committed}: differs from a fresh generation")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spikekit.samples", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and fail if the committed files differ")
    parser.add_argument("--data-root", default=None, help="data folder (default: the project's data/)")
    commands = parser.add_subparsers(dest="command", metavar="new")
    new = commands.add_parser(
        "new", help="make a new scenario from a seed and a shape",
        description="Make a new scenario from a seed and a shape: its tables and truth.json under "
                    "<data root>/generated/NAME/ and the spike file <playbook>/spikes/NAME.yaml. Shapes: "
                    + "; ".join(f"{shape}: {text}" for shape, text in SHAPES.items()) + ".")
    new.add_argument("name", help="scenario and spike name (lower-case letters, digits, '.', '_', '-')")
    new.add_argument("--seed", type=int, required=True, help="whole number >= 0; the same seed gives the same files")
    new.add_argument("--shape", choices=list(SHAPES), required=True, help="the story's template")
    new.add_argument("--data-root", dest="new_data_root", default=None, metavar="DIR",
                     help="data folder (default: the project's data/); files go to <it>/generated/NAME/")
    new.add_argument("--playbook", default=None, metavar="DIR", help="playbook folder (default: the project's playbook/)")
    new.add_argument("--force", action="store_true", help="replace an earlier generated scenario of that name")
    args = parser.parse_args(argv)
    try:
        if args.command == "new":
            return _main_new(args)
        if args.check:
            problems = check(args.data_root)
            for problem in problems:
                print(problem, file=sys.stderr)
            print("samples: OK, committed files match a fresh generation" if not problems
                  else f"samples: {len(problems)} file(s) differ; run `python -m spikekit.samples` and commit")
            return 1 if problems else 0
        for name, files in generate_all(args.data_root).items():
            sizes = ", ".join(f"{f} {p.stat().st_size / 1e6:.2f} MB" for f, p in files.items())
            print(f"{name}: {sizes}")
        return 0
    except SpikeError as exc:
        print(f"samples: error: {exc}", file=sys.stderr)
        return 2


def _main_new(args) -> int:
    folder, spike_file = create(args.name, args.seed, args.shape, data_root=args.new_data_root,
                                playbook=args.playbook, force=args.force)
    replay = json.loads((folder / "truth.json").read_text(encoding="utf-8"))["replay"]
    peak = "no peak" if replay["peak_day"] is None else (
        f"true demand peaks {replay['peak_day']} at {replay['peak_units_per_day']:g} units/day")
    print(f"scenario {args.name} ({args.shape}, seed {args.seed}): {peak}; the playbook should say "
          f"{replay['decision']}")
    print(f"data: {folder}")
    print(f"spike file: {spike_file}")
    print(f"next: spike run --spike {args.name} --chapters 01,02")
    return 0
