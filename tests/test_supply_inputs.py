"""Bad input in the supply tables (chapters 03-05): one clear error naming file, column, row and the fix.

Each case starts from the committed sample file, breaks one thing, and checks the message points at it.
Rows are spreadsheet rows (header = row 1).
"""
from __future__ import annotations

import shutil

import pytest

from spikekit.inputs import contracts
from spikekit.core.errors import InputError
from spikekit.core.paths import data_root

SAMPLE = data_root() / "samples" / "starry-mug"


def _lines(name):
    return (SAMPLE / f"{name}.csv").read_text(encoding="utf-8").splitlines()


def _edit(lines, row, column, value):
    header = lines[0].split(",")
    cells = lines[row - 1].split(",")
    cells[header.index(column)] = value
    out = list(lines)
    out[row - 1] = ",".join(cells)
    return out


CASES = {
    "negative capacity": ("suppliers", lambda L: _edit(L, 3, "daily_capacity", "-40"), "daily_capacity", [3]),
    "lead time missing": ("suppliers", lambda L: _edit(L, 4, "lead_days", ""), "lead_days", [4]),
    "unknown tier": ("suppliers", lambda L: _edit(L, 2, "tier", "D"), "tier", [2]),
    "duplicated supplier": ("suppliers", lambda L: L + [L[2]], "supplier", [3, len(_lines("suppliers")) + 1]),
    "negative warehouse capacity": ("warehouses", lambda L: _edit(L, 2, "capacity_per_day", "-5"), "capacity_per_day", [2]),
    "unknown warehouse kind": ("warehouses", lambda L: _edit(L, 3, "kind", "satellite"), "kind", [3]),
    "negative stock": ("stock", lambda L: _edit(L, 2, "on_hand", "-1"), "on_hand", [2]),
    "duplicated lane": ("lanes", lambda L: L + [L[1]], None, [2, len(_lines("lanes")) + 1]),
    "non-numeric lane cost": ("lanes", lambda L: _edit(L, 5, "cost_per_order", "cheap"), "cost_per_order", [5]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_supply_input_names_file_column_and_rows(case, tmp_path):
    table, breaker, column, rows = CASES[case]
    for other in SAMPLE.glob("*.csv"):
        shutil.copyfile(other, tmp_path / other.name)
    path = tmp_path / f"{table}.csv"
    path.write_text("\n".join(breaker(_lines(table))) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        contracts.load_table(path, contracts.CONTRACTS[table], data_root=tmp_path)
    err = info.value
    assert err.file and err.file.endswith(f"{table}.csv")
    if column is not None:
        assert err.column == column, str(err)
    assert err.rows and set(rows) <= set(err.rows), str(err)
    assert err.fix, str(err)


def test_regional_shares_must_sum_to_one(tmp_path):
    lines = _lines("regional_demand")
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("share")] = f"{float(cells[header.index('share')]) + 0.1:.4f}"
    (tmp_path / "regional_demand.csv").write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="regional_demand.csv") as info:
        contracts.load_table(tmp_path / "regional_demand.csv", contracts.CONTRACTS["regional_demand"], data_root=tmp_path)
    assert info.value.column == "share"
