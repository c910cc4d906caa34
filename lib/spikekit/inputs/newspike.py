"""``spike new NAME``: a spike of the shop's own, ready to fill in.

Writes ``playbook/spikes/<name>.yaml`` and a data folder ``<data root>/spikes/<name>/`` holding one template per
input table (the contract's header and an example row that passes the contract) and a ``README.md``: each table
with its columns' meaning and a checklist of which chapters need which tables. Both are derived from the
contracts (``spikekit.inputs.contracts``) and the chapters' ``inputs:`` in ``playbook.yaml`` when the spike is made, so
they say what this spikekit reads. The product, its keywords and the marketplace whose searches chapter 06 watches
are set in the spike file (``parameters:``), never taken from the sample product.

Nothing half-made is left behind: the folder is built aside and renamed into place, then the spike file is
linked into place (refused if one appeared meanwhile); an existing spike or data folder is never touched.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable, Sequence

from . import contracts
from ..core.errors import ConfigError
from ..core.paths import check_name, data_root, playbook_dir, remove_tree, resolve_under
from .settings import Playbook, check_timezone, load_playbook, load_spike

SPIKES_DATA_DIR = "spikes"  # <data root>/spikes/<name>/: a spike's own tables (samples/ and generated/ are the demos)
README_NAME = "README.md"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_KEYWORD_SPLIT_RE = re.compile(r"[,，]")  # a Chinese keyboard types the full-width comma


@dataclass(frozen=True)
class NewSpike:
    name: str
    spike_file: Path
    folder: Path
    tables: tuple[str, ...]


def spike_data_folder(name: str, root: Path | None = None) -> Path:
    """Where ``spike new`` puts a spike's tables: ``<data root>/spikes/<name>/``."""
    return (Path(root) if root is not None else data_root()) / SPIKES_DATA_DIR / check_name(name)


def parse_keywords(text: str | Sequence[str] | None, option: str = "--keywords") -> list[str]:
    """'k1,k2' (or a list) -> ['k1', 'k2']: stripped, duplicates dropped, an empty keyword between commas refused."""
    if text is None:
        return []
    items = _KEYWORD_SPLIT_RE.split(text) if isinstance(text, str) else list(text)
    words = [str(item).strip() for item in items]
    if isinstance(text, str) and not text.strip():
        return []
    if not all(words):
        raise ConfigError(f"{option} {text!r} has an empty keyword between commas. Fix: e.g. {option} 星空杯,咖啡杯")
    for word in words:
        _check_text(word, option)
    return list(dict.fromkeys(words))


def _check_text(value: str, option: str) -> str:
    if _CONTROL_RE.search(value):
        raise ConfigError(f"{option} {value!r} holds a line break or control character. Fix: give it on one line")
    return value


# ----------------------------------------------------------------------------------------------------------
# Example rows: values that pass each table's contract and agree across tables (the supplier of supplier_terms is
# the one in suppliers, lanes join warehouses and regional_demand, returns and tickets name the example order), so
# the untouched templates also pass the checks that join tables. A column not listed gets a value from its type.

def _example_rows(ctx: dict) -> dict[str, list[dict]]:
    day, product, keyword, platform = ctx["day"], ctx["product"], ctx["keyword"], ctx["platform"]
    at = lambda hours: (day + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    return {
        "signals": [dict(keyword=keyword, platform=ctx["search_platform"] or "小红书", timestamp=at(0), value=120,
                         metric="searches" if ctx["search_platform"] else "interactions")],
        "validation": [dict(timestamp=at(0), metric="add_to_cart", count=12, phase="baseline", design="")],
        "suppliers": [dict(supplier="供应商A", tier="A", min_order=0, max_units=300, material_units=0,
                           material_ready_day=3, daily_capacity=100, lead_days=2, unit_cost=18.0, setup_cost=200,
                           reliability=0.95)],
        "stock": [dict(sku=product, on_hand=40, unit_cost=14.5, price=49, holding_cost_per_day=0.05, salvage_value=9)],
        "warehouses": [dict(warehouse="主仓", kind="main", city="杭州", capacity_per_day=60, handling_cost=1.2)],
        "lanes": [dict(warehouse="主仓", region="华东", cost_per_order=4.5, delivery_days=1.0)],
        "regional_demand": [dict(region="华东", share=1.0, normal_cost_per_order=5.0)],
        "urgent_orders": [dict(order_id="U0001", timestamp=at(-14), region="华东", distance_km=8.5, promised_hours=4,
                               standard_hours=20, standard_cost=6.0, courier_cost=14.0)],
        "sales": [dict(timestamp=at(0), orders=10, price=49.0)],
        "traffic": [dict(timestamp=at(0), platform=platform, source="推荐", visitors=400)],
        "funnel": [dict(timestamp=at(0), platform=platform, views=1800, add_to_cart=210, orders=70)],
        "audience": [dict(timestamp=at(0), platform=platform, segment="女 25-35", visitors=530)],
        "budget": [dict(platform=platform, daily_budget=800)],
        "posts": [dict(post_id="p001", timestamp=at(-14), platform=platform, format="scenario", views=5200,
                       clicks=310, orders=24)],
        "cash": [dict(item="cash_on_hand", amount=20000), dict(item="cash_floor", amount=5000)],
        "settlement": [dict(platform=platform, lag_days=7, fee_share=0.05, refund_share=0.04)],
        "supplier_terms": [dict(supplier="供应商A", deposit_share=0.3, balance_days=7)],
        "financing": [dict(offer="银行采购贷", kind="purchase_loan", limit=15000, fee_share=0, term_days=30,
                           rate_annual=0.18)],
        "orders": [dict(order_id="O0001", timestamp=at(-14), buyer_id="B0001", product=product, platform=platform,
                        variant="标准款", region="华东", price=49.0, promised_ship=at(18), shipped="", delivered="",
                        buyer_prior_orders=0, buyer_prior_returns=0)],
        "returns": [dict(order_id="O0001", timestamp=at(-13), reason="changed_mind")],
        "tickets": [dict(ticket_id="T0001", timestamp=at(-13), order_id="O0001", customer_kind="paid", type="delay",
                         text="我的订单什么时候发货？", first_response=at(-12), resolved="")],
        "faq": [dict(faq_id="F01", type="delay", question="什么时候发货？", answer="付款后3天内发货，发货后可在订单页查看物流。")],
        "reviews": [dict(review_id="R0001", timestamp=at(-12), platform=platform, order_id="O0001", rating="5",
                         text="很喜欢，质量很好")],
        "inspections": [dict(batch_id="BATCH01", supplier="供应商A", timestamp=at(-12), lot_size=300, round=1,
                             inspected=50, defects=0)],
        "members": [dict(buyer_id="B0001", timestamp=at(-12))],
        "member_activity": [dict(buyer_id="B0001", timestamp=at(0), actions=3)],
    }


def _value_from_type(column: contracts.Column, day: datetime):
    """A value that passes ``column`` alone, for a column the example rows do not list (one added later)."""
    if column.dtype == "timestamp":
        return day.strftime("%Y-%m-%d %H:%M")
    if column.dtype == "str":
        if column.allowed:
            return column.allowed[0]
        return "example" if column.required else ""
    value = 1.0
    low = column.minimum
    if low is not None and (value < low or (column.exclusive_minimum and value <= low)):
        value = low + 1.0
    if column.maximum is not None:
        value = min(value, column.maximum)
    return int(value) if column.dtype == "int" else value


def template_rows(contract: contracts.Contract, ctx: dict) -> list[dict]:
    """The example rows of one table's template, each with exactly the contract's columns."""
    rows = _example_rows(ctx).get(contract.name) or [{}]
    return [{c.name: row[c.name] if c.name in row else _value_from_type(c, ctx["day"]) for c in contract.columns}
            for row in rows]


def template_csv(contract: contracts.Contract, ctx: dict) -> str:
    """header + example rows, UTF-8 CSV text (the loaders read it as any seller's file)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(contract.names)
    for row in template_rows(contract, ctx):
        writer.writerow(["" if row[name] is None else row[name] for name in contract.names])
    return out.getvalue()


# ----------------------------------------------------------------------------------------------------------
# The folder's README: the checklist and the columns, from the playbook and the contracts.

def readers(book: Playbook) -> dict[str, list[tuple[str, bool]]]:
    """input -> [(chapter id, required)] in chapter id order."""
    out: dict[str, list[tuple[str, bool]]] = {}
    for cid in sorted(book.chapters):
        chapter = book.chapters[cid]
        for key in chapter.inputs:
            out.setdefault(key, []).append((cid, True))
        for key in chapter.optional_inputs:
            out.setdefault(key, []).append((cid, False))
    return out


def input_tables(book: Playbook) -> list[str]:
    """Every input the chapters read, in the order the chapters (by id) first read them."""
    return list(readers(book))


def checklist(book: Playbook) -> list[str]:
    """One Markdown check box per chapter: the tables it reads and the chapters it runs after."""
    from .state import STATE_INPUTS

    lines = []
    for cid in sorted(book.chapters):
        chapter = book.chapters[cid]
        needs = ", ".join(f"`{key}.csv`" for key in chapter.inputs) or "no table of its own"
        optional = "".join(f"; optional `{key}.csv`" for key in chapter.optional_inputs)
        after = f" (runs after {', '.join(chapter.needs)})" if chapter.needs else ""
        lines.append(f"- [ ] **{cid} {chapter.title}**: {needs}{optional}{after}")
    lines.append("")
    lines.append("Every run also derives the spike's state (phase, stock position, the shared forecast) from "
                 + ", ".join(f"`{key}.csv`" for key in STATE_INPUTS) + ".")
    return lines


def _column_line(column: contracts.Column) -> str:
    kind = contracts._TYPE_NAMES[column.dtype]
    required = ("required" if column.required else
                f"required when {column.required_when[0]} = {column.required_when[1]}" if column.required_when
                else "optional")
    # Said once in the README's opening instead of on every line: "required" already means non-empty, and every
    # date-time column takes the same forms.
    rules = [r for r in contracts._rule_text(column).split("; ")
             if r not in ("-", "non-empty") and not r.startswith("local time") and not r.startswith("non-empty when")]
    rule = "".join(f"; {r}" for r in rules)
    return f"- `{column.name}` ({kind}, {required}{rule}): {column.description}"


def readme_text(name: str, book: Playbook, ctx: dict, tables: Iterable[str]) -> str:
    by_table = readers(book)
    lines = [
        f"# Spike `{name}`: its input tables",
        "",
        f"Made by `spike new` on {ctx['made']:%Y-%m-%d}; the settings are in `playbook/spikes/{name}.yaml`.",
        "",
        "Each `.csv` here is a template: the table's header and an example row that passes its checks "
        "(`cash.csv` has two: the cash now and the floor are both needed). Replace the example rows with your own "
        "rows (exports in UTF-8 or GBK, Excel `.xlsx` too: then change the file name under `data:` in the spike "
        "file). A table you do not have: delete its file and its line under `data:`; the chapters that need it "
        "cannot run, the checklist says which. Date-times are `YYYY-MM-DD HH:MM` in the spike's time zone "
        f"({ctx['timezone']}), or with a UTC offset such as `+08:00` (not both in one file). The full rules of "
        "every table are in the project's `data/README.md`.",
        "",
        "## Checklist: which chapters need which tables",
        "",
        *checklist(book),
        "",
        "## The tables",
        "",
    ]
    for key in tables:
        contract = contracts.CONTRACTS[key]
        chapters = ", ".join(f"{cid}" + ("" if required else " (optional)") for cid, required in by_table.get(key, []))
        lines.append(f"### `{key}.csv`")
        lines.append("")
        lines += [f"{contract.description} Read by chapter(s) {chapters}.", ""]
        lines += [_column_line(column) for column in contract.columns]
        lines += ["", "Each row is unique by: " + ", ".join(f"`{k}`" for k in contract.key) + ".", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# The spike file

def _scalar(value) -> str:
    """A YAML scalar or flow collection (JSON is YAML): texts are always quoted, so 01 or yes stay texts."""
    return json.dumps(value, ensure_ascii=False)


def spike_file_text(name: str, *, timezone: str, product: str, keywords: list[str], search_platform: str,
                    tables: Iterable[str], made: datetime) -> str:
    search_keyword = keywords[0] if search_platform else ""
    description = f"{product or name}: the shop's own spike"
    lines = [
        f"# Spike '{name}', made by `spike new` on {made:%Y-%m-%d}. Its tables are in data/{SPIKES_DATA_DIR}/{name}/",
        f"# (its README.md says which chapters need which). Run it with `spike run --spike {name}`.",
        f"description: {_scalar(description)}",
        f"timezone: {_scalar(timezone)}",
        "default_as_of: now          # a live spike runs as of the moment; --as-of gives another",
        "data:",
        *(f"  {key}: {SPIKES_DATA_DIR}/{name}/{key}.csv" for key in tables),
        "parameters:",
        '  "01":',
        "    keyword_groups: " + _scalar({name: keywords} if keywords else {})
        + "   # the product's keywords, watched together",
        '  "06":',
        f"    search_keyword: {_scalar(search_keyword)}"
        + ("   # the decline rule watches this series in signals" if search_keyword
           else "   # empty: the decline rule watches daily orders (set a keyword and"),
        f"    search_platform: {_scalar(search_platform)}"
        + ("" if search_keyword else "   # its platform to watch searches instead)"),
        '  "08":',
        "    product_facts: " + _scalar({"name": product} if product else {})
        + "   # material, capacity, price, ships_in_days, care: the FAQ drafts use them",
        '  "11":',
        f"    product: {_scalar(product)}" + ("" if product else "   # empty: the most ordered product"),
        '  "12":',
        f"    product: {_scalar(product)}" + ("" if product else "   # empty: every product's buyers"),
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------

def create_spike(name: str, *, product: str | None = None, keywords: str | Sequence[str] | None = None,
                 search_platform: str | None = None, timezone: str | None = None, today: date | None = None,
                 book: Playbook | None = None) -> NewSpike:
    """Make spike ``name``: its spike file and its data folder of templates. Refuses an invalid or existing name
    (spike file or data folder) with a ConfigError, before writing anything.

    ``keywords``: 'k1,k2' or a list; without any, the product's name is the keyword. ``search_platform``: the
    marketplace whose searches for the first keyword chapter 06 watches (empty: it watches daily orders).
    ``today``: the day the example rows are stamped (default: today in the spike's zone)."""
    spikes = playbook_dir() / "spikes"
    check_name(name, root=spikes)
    book = book or load_playbook()
    timezone = check_timezone(timezone or book.timezone, "--timezone")
    product = _check_text((product or "").strip(), "--product")
    words = parse_keywords(keywords)
    if not words and product:
        words = [product]
    search_platform = _check_text((search_platform or "").strip(), "--search-platform")
    if search_platform and not words:
        raise ConfigError(f"--search-platform {search_platform!r} needs a keyword whose searches chapter 06 watches. "
                          "Fix: add --keywords (the first one is watched) or --product")

    spike_file = spikes / f"{name}.yaml"
    if spike_file.exists() or spike_file.is_symlink():
        raise ConfigError(f"spike '{name}' already exists: {spike_file}. Fix: choose another name, or delete that "
                          f"file (and its data folder) to start it over")
    folder = resolve_under(data_root(), f"{SPIKES_DATA_DIR}/{name}", what=f"data folder of spike '{name}'")
    if folder.exists() or folder.is_symlink():
        raise ConfigError(f"the data folder of spike '{name}' already exists: {folder}. Fix: choose another name, "
                          "or move that folder away (spike new never writes over data)")

    import zoneinfo

    made = datetime.now(zoneinfo.ZoneInfo(timezone))
    day = datetime.combine(today or made.date(), datetime.min.time())
    ctx = dict(day=day, made=made, timezone=timezone, product=product or name, keyword=words[0] if words else (product or name),
               platform=search_platform or "淘宝", search_platform=search_platform)
    tables = [key for key in input_tables(book) if key in contracts.CONTRACTS]  # the tables there are templates of

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{name}.partial-{os.getpid()}"
    spike_staging = spikes / f".{name}.yaml.partial-{os.getpid()}"
    placed: list[Path] = []
    try:
        remove_tree(staging)
        staging.mkdir()
        for key in tables:
            (staging / f"{key}.csv").write_text(template_csv(contracts.CONTRACTS[key], ctx), encoding="utf-8")
        (staging / README_NAME).write_text(readme_text(name, book, ctx, tables), encoding="utf-8")
        spikes.mkdir(parents=True, exist_ok=True)
        spike_staging.write_text(spike_file_text(name, timezone=timezone, product=product, keywords=words,
                                                 search_platform=search_platform, tables=tables, made=made),
                                 encoding="utf-8")
        try:
            os.rename(staging, folder)  # refused when a folder of that name appeared meanwhile (it is not empty)
        except OSError:
            raise ConfigError(f"the data folder of spike '{name}' appeared while it was being made: {folder}. "
                              "Fix: choose another name") from None
        placed.append(folder)
        try:
            os.link(spike_staging, spike_file)  # never replaces a spike file written meanwhile
        except FileExistsError:
            raise ConfigError(f"spike '{name}' appeared while it was being made: {spike_file}. "
                              "Fix: choose another name") from None
        except OSError:  # a file system without hard links: the check above is as close as it gets
            if spike_file.exists():
                raise
            os.replace(spike_staging, spike_file)
        placed.append(spike_file)
        load_spike(name, book)  # the file this wrote must be a valid spike (a bug here must not leave a broken one)
    except BaseException:
        for path in reversed(placed):
            remove_tree(path)
        raise
    finally:
        remove_tree(staging)
        spike_staging.unlink(missing_ok=True)
    return NewSpike(name=name, spike_file=spike_file, folder=folder, tables=tuple(tables))
