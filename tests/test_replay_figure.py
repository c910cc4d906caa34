"""The replay timeline figure: a row for every chapter that ran, and no overprinted labels at many steps.
Built from a hand-made timeline (no kernel, no replay run), so it takes a second or two."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from spikekit.engine.replay import chapters_that_ran, decision_column, timeline_figure

ORDER = ["01", "02", "03", "04", "05", "06", "07"]
NAMES = {"01": "early_warning", "02": "validation", "03": "supplier_launch", "04": "inventory",
         "05": "logistics", "06": "exit", "07": "data_room"}


def _timeline(steps: int) -> pd.DataFrame:
    """``steps`` daily steps; each chapter records its call under the name the real chapter uses, and the calls
    flip often (every other step for 01) so that labels would crowd if every change were written."""
    rows = []
    for i, when in enumerate(pd.date_range("2025-01-01 12:00", periods=steps, freq="D", tz="Asia/Shanghai")):
        row = {"as_of": when.isoformat(), "run_id": f"r{i}", "status": "ok"}
        for cid in ORDER:
            row[f"{cid}.status"] = "ok"
        row["01.decision"] = "alert" if i % 2 else "no-alert"
        row["02.decision"] = "go" if i % 3 == 0 else "extend"
        row["03.decision"] = "order" if i > steps // 2 else "hold"
        row["04.verdict"] = "reorder due now" if i % 5 == 0 else "stock covers demand"  # an older record: verdict only
        row["05.decision"] = None  # ran, recorded no call at this step
        row["06.exit_decision"] = "brake" if i % 4 == 0 else "hold"
        row["07.decision"] = "keep" if i % 2 else "change the creative"
        rows.append(row)
    return pd.DataFrame(rows)


def _overlapping(boxes) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]


@pytest.mark.parametrize("steps", [3, 40, 240])
def test_replay_figure_has_a_row_per_chapter_that_ran_and_no_overprinted_labels(steps):
    import matplotlib.pyplot as plt

    timeline = _timeline(steps)
    chapters = chapters_that_ran(timeline, ORDER + ["08"])  # 08 did not run: no row
    assert chapters == ORDER
    assert decision_column(timeline, "04") == "04.verdict" and decision_column(timeline, "06") == "06.exit_decision"
    spike = SimpleNamespace(name="hand", data={}, timezone="Asia/Shanghai")
    fig = timeline_figure(timeline, spike, chapters, names=NAMES)
    try:
        strip = fig.axes[1]
        labels = [t.get_text() for t in strip.get_yticklabels()]
        assert len(labels) == len(ORDER)
        assert [label.split(" ", 1)[0] for label in labels] == ORDER
        assert "supplier" in labels[2] and "inventory" in labels[3]
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ticks = [t for t in strip.get_xticklabels() if t.get_text()]
        assert 2 <= len(ticks) <= 9
        assert _overlapping([t.get_window_extent(renderer) for t in ticks]) == []
        notes = [t for t in strip.texts if t.get_text()]
        assert notes, "at least each row's first call is written"
        assert _overlapping([t.get_window_extent(renderer) for t in notes]) == []
        inside = strip.get_window_extent(renderer)
        assert all(inside.x0 <= t.get_window_extent(renderer).x0 and t.get_window_extent(renderer).x1 <= inside.x1
                   for t in notes)
        # Every row with a call has its first call written; chapter 05 recorded none and has no label.
        rows_written = {round(t.xy[1]) for t in notes}
        assert rows_written == {0, 1, 2, 3, 5, 6}
        ylabels = [t.get_window_extent(renderer) for t in strip.get_yticklabels()]
        assert _overlapping(ylabels) == []
    finally:
        plt.close(fig)
