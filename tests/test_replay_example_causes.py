"""Causes behind the README's first `spike replay` example failing, each pinned by a test."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from spikekit.chapters import retrospective as retro  # noqa: E402
from spikekit.core.stats import wilson  # noqa: E402


@pytest.mark.parametrize("n", range(1, 61))
def test_wilson_interval_holds_its_estimate_at_the_boundaries(n):
    """k = n = 10 computed an upper bound of 0.9999999999999999 below the estimate 1.0 (chapter 12's error bars
    then went negative); the bounds at k = 0 and k = n are exactly 0 and 1."""
    full, none = wilson(n, n, 0.95), wilson(0, n, 0.95)
    assert full.high == 1.0 and full.low <= full.estimate == 1.0
    assert none.low == 0.0 and none.estimate == 0.0 <= none.high
    for k in range(n + 1):
        w = wilson(k, n, 0.95)
        assert w.low <= w.estimate <= w.high


def test_retention_plot_accepts_a_rate_a_rounding_step_outside_its_interval():
    """Chapter 12 failed with "'yerr' must not contain negative values" when a Kaplan-Meier rate of 1.0 was
    shown with the elapsed windows' Wilson interval, whose upper bound was a rounding step below it."""
    rates = pd.DataFrame({
        "metric": ["community_join", "repurchase", "member_activity"],
        "rate": [1.0, 0.2, math.nan], "low": [0.7, 0.1, math.nan], "high": [0.9999999999999999, 0.35, math.nan],
        "handbook": [0.3, 0.2, 0.4], "base": [10, 10, 0], "open": [0, 2, 0]})
    kept = retro.Retention(cohort=pd.DataFrame(), rates=rates, as_of=pd.Timestamp("2025-03-14 12:00"),
                           cohort_start=pd.Timestamp("2025-03-07 12:00"), cohort_end=None, conf=0.95)
    fig = retro.plot_retention(kept)
    assert fig is not None


def test_validation_headline_before_the_validation_has_data_says_so_in_words():
    """A replay step before chapter 02's window headlined "add-to-cart nanx normal (90% interval 0.0-infx ...);
    pre-sale demand nan/day (0-inf)"; after it the headline is unchanged."""
    from spikekit.inputs import contracts
    from spikekit.chapters import validation

    events = contracts.load_validation("samples/starry-mug/validation.csv")
    early = validation.headline(validation.decide(events, pd.Timestamp("2025-03-05 12:00", tz="Asia/Shanghai")))
    assert "nan" not in early and "inf" not in early
    assert early.startswith("EXTEND: add-to-cart lift not measurable yet") and "pre-sale demand not measured yet" in early
    later = validation.headline(validation.decide(events, pd.Timestamp("2025-03-09 12:00", tz="Asia/Shanghai")))
    assert later.startswith("GO: add-to-cart ") and "x normal (90% interval " in later and "nan" not in later
