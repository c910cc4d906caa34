"""Bad-input catalogue: every input table, every kind of mistake a person makes in a spreadsheet export.

Each case copies one shipped sample file into a throwaway data folder, breaks it the way a real export breaks,
and loads it through the table's own loader. The error must be an ``InputError`` (or ``ConfigError`` for
settings) that names the file, the column and the spreadsheet row (header = row 1) and says how to fix it;
and nothing may be written anywhere: the data folder and a records root hash the same before and after.
"""
from __future__ import annotations

import csv
import hashlib
import io
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikekit.inputs import contracts
from spikekit.core.errors import ConfigError, InputError
from tests.conftest import PROJECT

SAMPLES = PROJECT / "data" / "samples" / "starry-mug"

# The tables of data/README.md, each with its sample file.
KNOWN_TABLES = ("signals", "validation", "suppliers", "stock", "warehouses", "lanes", "regional_demand",
                "urgent_orders", "sales", "traffic", "funnel", "audience", "budget", "posts", "cash", "settlement",
                "supplier_terms", "financing")


def read_table(table: str) -> tuple[list[str], list[list[str]]]:
    with open(SAMPLES / f"{table}.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------------------
# Mutations: each returns (new file bytes, the spreadsheet rows the error must name)
Mutation = Callable[[list[str], list[list[str]]], tuple[bytes, list[int] | None]]


def set_cell(column: str, index: int, value: str) -> Mutation:
    """Write ``value`` into ``column`` of data row ``index`` (spreadsheet row index + 2)."""
    def mutate(header, rows):
        rows = [list(r) for r in rows]
        rows[index][header.index(column)] = value
        return write_csv(header, rows), [index + 2]
    return mutate


def set_cells(changes: list[tuple[str, int, str]], expect_rows: list[int] | None) -> Mutation:
    def mutate(header, rows):
        rows = [list(r) for r in rows]
        for column, index, value in changes:
            rows[index][header.index(column)] = value
        return write_csv(header, rows), expect_rows
    return mutate


def rename_column(old: str, new: str) -> Mutation:
    def mutate(header, rows):
        return write_csv([new if h == old else h for h in header], rows), [1]
    return mutate


def repeat_column(column: str, header_as_written: str) -> Mutation:
    """A copy of ``column`` appended at the end under ``header_as_written`` (the same header, or it spaced / cased)."""
    def mutate(header, rows):
        i = header.index(column)
        return write_csv(header + [header_as_written], [r + [r[i]] for r in rows]), [1]
    return mutate


def set_middle_cell(column: str, value: str) -> Mutation:
    """``value`` in ``column`` of the middle data row (decided from the file, not at collection)."""
    def mutate(header, rows):
        return set_cell(column, len(rows) // 2, value)(header, rows)
    return mutate


def drop_column(name: str) -> Mutation:
    def mutate(header, rows):
        keep = [i for i, h in enumerate(header) if h != name]
        return write_csv([header[i] for i in keep], [[r[i] for i in keep] for r in rows]), [1]
    return mutate


def duplicate_row(index: int) -> Mutation:
    def mutate(header, rows):
        return write_csv(header, rows + [list(rows[index])]), [index + 2, len(rows) + 2]
    return mutate


def drop_rows_where(column: str, value: str) -> Mutation:
    def mutate(header, rows):
        return write_csv(header, [r for r in rows if r[header.index(column)] != value]), None
    return mutate


def append_bytes(data: bytes) -> Mutation:
    """The file as it is, then ``data`` as one more line (e.g. bytes no text encoding can read)."""
    def mutate(header, rows):
        return write_csv(header, rows) + data, [len(rows) + 2]
    return mutate


def raw_bytes(data: bytes, rows: list[int] | None) -> Mutation:
    return lambda header, rows_: (data, rows)


def header_only(header, rows):
    return write_csv(header, []), [1]


def all_rows(header, rows):
    return write_csv(header, rows), list(range(2, len(rows) + 2))


def scale_share(index: int, value: str) -> Mutation:
    """One share changed so the shares no longer sum to 1: every row is named."""
    def mutate(header, rows):
        rows = [list(r) for r in rows]
        rows[index][header.index("share")] = value
        return write_csv(header, rows), list(range(2, len(rows) + 2))
    return mutate


def funnel_orders_over_cart(index: int) -> Mutation:
    def mutate(header, rows):
        rows = [list(r) for r in rows]
        cart = int(rows[index][header.index("add_to_cart")])
        rows[index][header.index("orders")] = str(cart + 5)
        return write_csv(header, rows), [index + 2]
    return mutate


def design_vote_without_design(header, rows):
    rows = [list(r) for r in rows]
    index = next(i for i, r in enumerate(rows) if r[header.index("metric")] == "design_vote")
    rows[index][header.index("design")] = ""
    return write_csv(header, rows), [index + 2]


def min_over_max(index: int) -> Mutation:
    def mutate(header, rows):
        rows = [list(r) for r in rows]
        rows[index][header.index("min_order")] = str(int(rows[index][header.index("max_units")]) + 1)
        return write_csv(header, rows), [index + 2]
    return mutate


def salvage_over_price(index: int) -> Mutation:
    def mutate(header, rows):
        rows = [list(r) for r in rows]
        rows[index][header.index("salvage_value")] = str(float(rows[index][header.index("price")]) + 1)
        return write_csv(header, rows), [index + 2]
    return mutate


def clicks_over_views(index: int) -> Mutation:
    def mutate(header, rows):
        rows = [list(r) for r in rows]
        rows[index][header.index("clicks")] = str(int(rows[index][header.index("views")]) + 1)
        return write_csv(header, rows), [index + 2]
    return mutate


@dataclass(frozen=True)
class Case:
    id: str
    table: str
    mutate: Mutation
    column: str | None  # the column the error must name (None: the problem has no one column)
    message: str  # a fragment the message must contain


CASES = [
    # signals
    Case("signals-missing-column", "signals", drop_column("metric"), "metric", "missing column 'metric'"),
    Case("signals-misnamed-column", "signals", rename_column("value", "valeu"), "value", "did you mean 'value'"),
    Case("signals-wrong-type", "signals", set_cell("value", 40, "12k"), "value", "not a number"),
    Case("signals-negative-count", "signals", set_cell("value", 7, "-3"), "value", "negative value"),
    Case("signals-duplicate-key", "signals", duplicate_row(11), "keyword, platform, metric, timestamp", "duplicate rows"),
    Case("signals-mixed-time-zones", "signals", set_cell("timestamp", 20, "2025-01-15 20:00:00+08:00"), "timestamp",
         "mixed time zones"),
    Case("signals-nan-value", "signals", set_cell("value", 99, "NaN"), "value", "not a number"),
    Case("signals-infinite-value", "signals", set_cell("value", 98, "-inf"), "value", "not a number"),
    Case("signals-1e308-value", "signals", set_cell("value", 40, "1e308"), "value",
         "value 1e+308 out of range: value must be between 0 and 1,000,000,000"),
    Case("signals-duplicate-header", "signals", repeat_column("value", "value"), "value",
         "the header 'value' appears twice: columns D and F (positions 4 and 6)"),
    Case("signals-empty-file", "signals", raw_bytes(b"", [1]), None, "file is empty"),
    Case("signals-undecodable-bytes", "signals", append_bytes(b"\xff\xfe\xfa,x,2025-01-15 00:00:00,1,searches\n"), None,
         "neither UTF-8 nor GBK"),
    Case("signals-duplicate-header-after-strip-and-case", "signals", repeat_column("value", " Value"), "value",
         "the headers 'value' and ' Value' name the same column"),
    Case("signals-unreadable-time", "signals", set_cell("timestamp", 5, "15/01/2025 05:00"), "timestamp", "cannot read"),
    # validation
    Case("validation-unknown-enum", "validation", set_cell("metric", 3, "add_to_carts"), "metric", "did you mean 'add_to_cart'"),
    Case("validation-fractional-count", "validation", set_cell("count", 4, "12.5"), "count", "not a whole number"),
    Case("validation-design-vote-without-design", "validation", design_vote_without_design, "design", "must name the design"),
    Case("validation-design-on-other-row", "validation", set_cell("design", 0, "星空蓝"), "design", "only metric 'design_vote' rows"),
    Case("validation-unknown-phase", "validation", set_cell("phase", 2, "pilot"), "phase", "unknown value 'pilot'"),
    # suppliers
    Case("suppliers-min-over-max", "suppliers", min_over_max(1), "min_order", "min_order is above max_units"),
    Case("suppliers-reliability-above-one", "suppliers", set_cell("reliability", 0, "96"), "reliability",
         "value 96 out of range: reliability must be between 0 and 1"),
    Case("suppliers-lead-days-in-hours", "suppliers", set_cell("lead_days", 2, "720"), "lead_days",
         "lead_days must be between 0 and 365"),
    Case("suppliers-unknown-tier", "suppliers", set_cell("tier", 1, "D"), "tier", "unknown value 'D'"),
    # stock
    Case("stock-negative-on-hand", "stock", set_cell("on_hand", 0, "-40"), "on_hand", "negative value"),
    Case("stock-salvage-over-price", "stock", salvage_over_price(0), "salvage_value", "salvage_value is above price"),
    Case("stock-zero-price", "stock", set_cell("price", 0, "0"), "price", "price must be above 0"),
    # warehouses, lanes, regional_demand, urgent_orders
    Case("warehouses-unknown-kind", "warehouses", set_cell("kind", 1, "3pl"), "kind", "unknown value '3pl'"),
    Case("warehouses-fractional-capacity", "warehouses", set_cell("capacity_per_day", 0, "55.5"), "capacity_per_day",
         "not a whole number"),
    Case("lanes-duplicate-key", "lanes", duplicate_row(2), "warehouse, region", "duplicate rows"),
    Case("lanes-empty-cost", "lanes", set_cell("cost_per_order", 3, ""), "cost_per_order", "empty value"),
    Case("regional-shares-not-summing-to-one", "regional_demand", scale_share(1, "0.32"), "share", "sum to 1.1000, not 1"),
    Case("regional-share-above-one", "regional_demand", set_cells([("share", 0, "38"), ("share", 1, "0")], [2]), "share",
         "share must be between 0 and 1"),
    Case("urgent-zero-promise", "urgent_orders", set_cell("promised_hours", 10, "0"), "promised_hours",
         "promised_hours must be above 0"),
    Case("urgent-empty-timestamp", "urgent_orders", set_cell("timestamp", 12, ""), "timestamp", "empty timestamp"),
    # sales, traffic, funnel, audience, budget
    Case("sales-not-midnight", "sales", set_cell("timestamp", 6, "2025-01-22 08:00:00"), "timestamp", "not a midnight"),
    Case("sales-negative-orders", "sales", set_cell("orders", 9, "-7"), "orders", "negative value"),
    Case("sales-nan-price", "sales", set_cell("price", 14, "nan"), "price", "not a number"),
    Case("traffic-off-the-hour", "traffic", set_cell("timestamp", 30, "2025-03-07 11:30:00"), "timestamp", "not on the hour"),
    Case("funnel-orders-over-cart", "funnel", funnel_orders_over_cart(25), "orders", "orders is above add_to_cart"),
    Case("audience-off-grid-window", "audience", set_cell("timestamp", 0, "2025-03-08 06:00:00"), "timestamp",
         "not 00:00 or 12:00"),
    Case("budget-misnamed-column", "budget", rename_column("daily_budget", "daily budget"), "daily_budget",
         "did you mean 'daily_budget'"),
    Case("budget-header-only", "budget", header_only, None, "file is empty"),
    Case("budget-empty-file", "budget", raw_bytes(b"", [1]), None, "file is empty"),
    Case("budget-blank-lines-only", "budget", raw_bytes(b"\n\n ,\n", [1]), None, "file is empty"),
    Case("budget-undecodable-bytes", "budget", raw_bytes("platform,daily_budget\n小红书,1\n".encode() + b"\xff\xfe\xfa,2\n", [3]),
         None, "neither UTF-8 nor GBK"),
    # posts
    Case("posts-clicks-over-views", "posts", clicks_over_views(3), "clicks", "clicks is above views"),
    Case("posts-unknown-format", "posts", set_cell("format", 2, "vlog"), "format", "unknown value 'vlog'"),
    Case("posts-duplicate-id", "posts", duplicate_row(0), "post_id", "duplicate rows"),
    # cash, settlement, supplier_terms, financing
    Case("cash-missing-floor-row", "cash", drop_rows_where("item", "cash_floor"), "item", "no row for cash_floor"),
    Case("cash-negative-floor", "cash", set_cell("amount", 1, "-5000"), "amount", "cannot be negative"),
    Case("cash-unknown-item", "cash", set_cell("item", 2, "cash"), "item", "unknown value 'cash'"),
    Case("settlement-fee-plus-refund-over-one", "settlement", set_cells([("fee_share", 0, "0.6"), ("refund_share", 0, "0.5")], [2]),
         "refund_share", "fee_share + refund_share is above 1"),
    Case("settlement-negative-lag", "settlement", set_cell("lag_days", 1, "-2"), "lag_days", "negative value"),
    Case("supplier-terms-deposit-above-one", "supplier_terms", set_cell("deposit_share", 0, "30"), "deposit_share",
         "deposit_share must be between 0 and 1"),
    Case("financing-zero-term", "financing", set_cell("term_days", 1, "0"), "term_days", "term_days is 0"),
    Case("financing-unknown-kind", "financing", set_cell("kind", 0, "purchase loan"), "kind", "did you mean 'purchase_loan'"),
    Case("financing-rate-as-percent", "financing", set_cell("rate_annual", 1, "12"), "rate_annual",
         "rate_annual must be between 0 and 1"),
]


def defects_over_inspected(index: int) -> Mutation:
    def mutate(header, rows):
        rows = [list(r) for r in rows]
        rows[index][header.index("defects")] = str(int(rows[index][header.index("inspected")]) + 1)
        return write_csv(header, rows), [index + 2]
    return mutate


# Chapters 11-12 tables. A case whose sample file is missing fails (it is never dropped from the catalogue).
NEW_CASES = [
    Case("orders-delivered-before-shipped", "orders", set_cell("delivered", 0, "2025-01-15 10:00:00"), "delivered",
         "delivered is before shipped"),
    Case("orders-unreadable-shipped", "orders", set_cell("shipped", 3, "soon"), "shipped", "cannot read 'soon'"),
    Case("returns-unknown-reason", "returns", set_cell("reason", 2, "broken"), "reason", "unknown value 'broken'"),
    Case("tickets-unknown-type", "tickets", set_cell("type", 1, "refund"), "type", "unknown value 'refund'"),
    Case("reviews-rating-out-of-range", "reviews", set_cell("rating", 1, "6"), "rating", "unknown value '6'"),
    Case("inspections-defects-over-inspected", "inspections", defects_over_inspected(0), "defects",
         "defects is above inspected"),
    Case("member-activity-zero-actions", "member_activity", set_cell("actions", 1, "0"), "actions", "actions is 0"),
]


def generic_cases() -> list[Case]:
    """For every contract beyond the ones above (the after-sales and retrospective tables): missing column,
    misnamed column, negative count, duplicate key. Built from the contract alone, so a table whose sample file
    is missing still gets its cases, and they fail."""
    cases = []
    for name, contract in contracts.CONTRACTS.items():
        if name in KNOWN_TABLES:
            continue
        required = [c for c in contract.columns if c.required]
        col = required[-1].name
        cases.append(Case(f"{name}-missing-column", name, drop_column(col), col, f"missing column '{col}'"))
        cases.append(Case(f"{name}-misnamed-column", name, rename_column(col, col.upper() + "_X"), col, "did you mean"))
        negative = [c for c in contract.columns if c.non_negative]
        if negative:
            col = negative[0].name
            cases.append(Case(f"{name}-negative-{col}", name, set_middle_cell(col, "-1"), col, "negative value"))
        cases.append(Case(f"{name}-duplicate-key", name, duplicate_row(0), ", ".join(contract.key), "duplicate rows"))
    return cases


ALL_CASES = CASES + NEW_CASES + generic_cases()
# Counted, not estimated: a case that silently drops out of the catalogue (or a table that gains cases without
# this number being looked at) fails test_the_catalogue_covers_every_table_and_kind.
EXPECTED_CASE_COUNT = 91


@pytest.fixture
def roots(tmp_path):
    """A data folder holding the sample scenario and a records root holding an earlier (fake) record."""
    data = tmp_path / "data"
    folder = data / "samples" / "starry-mug"
    folder.mkdir(parents=True)
    for table in ("budget", "suppliers", "lanes"):  # a few untouched neighbours (the broken file is written per case)
        shutil.copyfile(SAMPLES / f"{table}.csv", folder / f"{table}.csv")
    records = tmp_path / "records"
    (records / "starry-mug" / "20250101T000000Z-abcd" / "results").mkdir(parents=True)
    (records / "starry-mug" / "20250101T000000Z-abcd" / "run.json").write_text('{"status": "ok"}', encoding="utf-8")
    return data, records


def test_the_catalogue_covers_every_table_and_kind():
    tables = {c.table for c in CASES}
    assert tables == set(KNOWN_TABLES)
    assert len(ALL_CASES) == EXPECTED_CASE_COUNT
    assert len({c.id for c in ALL_CASES}) == len(ALL_CASES)
    assert {c.table for c in ALL_CASES} == set(contracts.CONTRACTS)


def test_every_table_has_its_sample_file():
    missing = [name for name in contracts.CONTRACTS if not (SAMPLES / f"{name}.csv").is_file()]
    assert missing == []


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_bad_input_is_refused_with_file_column_row_and_fix(case, roots, monkeypatch):
    data, records = roots
    monkeypatch.setenv("SPIKE_RECORDS", str(records))
    header, rows = read_table(case.table)
    content, expect_rows = case.mutate(header, rows)
    rel = Path("samples") / "starry-mug" / f"{case.table}.csv"
    (data / rel).write_bytes(content)
    before = tree_hash(data), tree_hash(records)
    loader = getattr(contracts, f"load_{case.table}")
    with pytest.raises(InputError) as caught:
        loader(str(rel), data_root=data)
    err = caught.value
    text = str(err)
    assert err.file is not None and err.file.endswith(f"{case.table}.csv") and err.file in text
    assert case.message in text, text
    assert err.column == case.column, text
    if case.column is not None:
        assert f"column '{case.column}'" in text
    assert err.rows == expect_rows, text
    if expect_rows:
        assert ("row " if len(expect_rows) == 1 else "rows ") + str(expect_rows[0]) in text
    assert err.fix and "Fix: " in text
    assert (tree_hash(data), tree_hash(records)) == before


def test_a_gbk_export_loads_the_same_as_utf8(roots):
    data, _ = roots
    for table in ("budget", "suppliers", "lanes"):
        rel = Path("samples") / "starry-mug" / f"{table}.csv"
        utf8 = getattr(contracts, f"load_{table}")(str(rel), data_root=data)
        gbk_rel = rel.with_name(f"{table}_gbk.csv")
        (data / gbk_rel).write_bytes((data / rel).read_text(encoding="utf-8").encode("gbk"))
        gbk = getattr(contracts, f"load_{table}")(str(gbk_rel), data_root=data)
        assert gbk.attrs["source"]["encoding"] == "gb18030"
        assert gbk.equals(utf8)


@pytest.mark.parametrize("ref", ["../../etc/passwd", "/etc/passwd", "samples/../../outside.csv"])
def test_a_path_escaping_the_data_folder_is_refused(ref, roots, tmp_path):
    data, records = roots
    (tmp_path / "outside.csv").write_text("platform,daily_budget\nx,1\n", encoding="utf-8")
    before = tree_hash(data), tree_hash(records)
    with pytest.raises(ConfigError) as caught:
        contracts.load_budget(ref, data_root=data)
    text = str(caught.value)
    assert ref in text and str(data.resolve()) in text and "Fix:" in text
    assert (tree_hash(data), tree_hash(records)) == before


def test_an_unknown_spike_name_is_refused_with_the_known_ones(roots, monkeypatch):
    from spikekit.inputs.settings import load_spike

    data, records = roots
    monkeypatch.setenv("SPIKE_RECORDS", str(records))
    before = tree_hash(data), tree_hash(records)
    with pytest.raises(ConfigError) as caught:
        load_spike("starry-mugg")
    text = str(caught.value)
    assert "unknown spike 'starry-mugg'" in text and "starry-mug" in text and "did you mean 'starry-mug'" in text
    assert (tree_hash(data), tree_hash(records)) == before


# ----------------------------------------------------------------------------------------------------------
# Properties: the row named is exactly the row broken, wherever it is and however the file is ordered
def _load_in_fresh_root(table: str, content: bytes):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / f"{table}.csv").write_bytes(content)
        return getattr(contracts, f"load_{table}")(f"{table}.csv", data_root=folder)


_SALES = read_table("sales")
_LANES = read_table("lanes")
_FUNNEL = read_table("funnel")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(_SALES[1]) - 1), value=st.integers(-10**9, -1), seed=st.integers(0, 2**32 - 1))
def test_a_negative_count_anywhere_is_reported_at_exactly_its_row(index, value, seed):
    header, rows = _SALES
    rows = [list(r) for r in rows]
    random.Random(seed).shuffle(rows)  # the loader sorts by time: rows must still be the file's
    rows[index][header.index("orders")] = str(value)
    with pytest.raises(InputError) as caught:
        _load_in_fresh_root("sales", write_csv(header, rows))
    assert caught.value.column == "orders" and caught.value.rows == [index + 2]


@settings(max_examples=30, deadline=None)
@given(order=st.permutations(range(len(_LANES[1]))), pick=st.integers(0, len(_LANES[1]) - 1),
       at=st.integers(0, len(_LANES[1])))
def test_duplicates_are_reported_with_both_rows_in_any_order(order, pick, at):
    header, rows = _LANES
    shuffled = [rows[i] for i in order]
    copy = list(shuffled[pick])
    shuffled.insert(at, copy)
    original_at = pick if pick < at else pick + 1
    with pytest.raises(InputError) as caught:
        _load_in_fresh_root("lanes", write_csv(header, shuffled))
    assert caught.value.rows == sorted([original_at + 2, at + 2])
    assert "duplicate rows" in str(caught.value)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(_FUNNEL[1]) - 1), seed=st.integers(0, 2**32 - 1))
def test_a_cross_column_break_in_a_shuffled_file_names_its_file_row(index, seed):
    header, rows = _FUNNEL
    rows = [list(r) for r in rows]
    random.Random(seed).shuffle(rows)
    cart = int(rows[index][header.index("add_to_cart")])
    rows[index][header.index("orders")] = str(cart + 1)
    with pytest.raises(InputError) as caught:
        _load_in_fresh_root("funnel", write_csv(header, rows))
    assert caught.value.column == "orders" and caught.value.rows == [index + 2]
