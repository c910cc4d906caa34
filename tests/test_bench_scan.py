"""`spike scan` start-up and the scaling benchmark's growth fit (benchmarks/bench_scan.py)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_scan", PROJECT / "benchmarks" / "bench_scan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_signals_constant_matches_stats_without_importing_scipy_stats():
    from spikekit.chapters import early_warning as signals
    from spikekit.core import stats

    assert signals.MAD_TO_SIGMA == stats.MAD_TO_SIGMA
    # What `spike scan` imports must not pull in scipy (scipy.stats was a third of the command's start-up,
    # scipy.special another 0.16 s).
    code = ("import sys; import spikekit.cli, spikekit.inputs.contracts, spikekit.chapters.early_warning; "
            "print(any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_power_fit_recovers_known_exponent():
    fit_power = _bench().fit_power
    a, b = fit_power([1_000, 10_000, 100_000], [0.002 * n**1.1 for n in (1_000, 10_000, 100_000)])
    assert a == pytest.approx(0.002) and b == pytest.approx(1.1)
    # Linear growth plus a fixed start-up cost bends the fitted exponent below 1.
    _, b_fixed = fit_power([1_000, 10_000, 100_000], [1.0 + 1e-4 * n for n in (1_000, 10_000, 100_000)])
    assert 0.4 < b_fixed < 0.9
