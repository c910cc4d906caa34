"""The house plot style renders Chinese text (no empty boxes) and every helper figure has titles and units."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from spikekit.core import plots


@pytest.fixture(autouse=True)
def theme():
    plots.use_theme()
    yield
    plt.close("all")


@pytest.mark.filterwarnings("ignore:Glyph")
def test_chinese_text_renders_with_the_theme_and_not_without():
    fig, ax = plt.subplots()
    plots.finish(ax, "星空咖啡杯 @ 小红书", "日期 (date)", "互动量 per day")
    assert plots.missing_glyphs(fig) == []
    # The check itself can fail: with only DejaVu Sans the same text has missing glyphs.
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig2, ax2 = plt.subplots()
        ax2.set_title("星空")
        assert set(plots.missing_glyphs(fig2)) == {"星", "空"}


def test_design_and_lift_figures_have_titles_units_and_render():
    ranking = pd.DataFrame({"design": ["星空蓝", "银河紫"], "votes": [30, 10], "share": [0.75, 0.25],
                            "share_low": [0.6, 0.13], "share_high": [0.86, 0.4], "p_best": [0.99, 0.01], "rank": [1, 2]})
    fig = plots.design_evidence(ranking)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Share of votes", "Probability of being the best design"]
    assert all(ax.get_xlabel() for ax in fig.axes)
    assert plots.missing_glyphs(fig) == []
    lifts = pd.DataFrame([{"measure": "add-to-cart vs normal day", "lift": 10.0, "low": 8.7, "high": 11.5, "bar": 5.0}])
    fig = plots.lift_evidence(lifts)
    assert fig.axes[0].get_title() == "add-to-cart vs normal day"
    assert "log scale" in fig.axes[0].get_xlabel()
