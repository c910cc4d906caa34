"""Chapters on a Dask distributed cluster (spikekit.engine.distributed.DaskPool) give the same record as a local run.

A LocalCluster of two single-threaded worker processes on loopback stands in for the agency's machines; the
mini project of tests/conftest.py (tiny real notebooks, real papermill and kernels) is run both ways.
"""
from __future__ import annotations

import os

import pytest

distributed = pytest.importorskip("distributed", reason="the 'distributed' package is not installed: "
                                  "the Dask executor (spike run --executor dask) cannot be tested")

from spikekit.engine import runner  # noqa: E402
from spikekit.engine.distributed import DaskPool, pool_for  # noqa: E402
from spikekit.core.errors import ConfigError  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster():
    import dask

    # One failure of a worker is enough to call a chapter failed (the last test kills one on purpose).
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=":0", silence_logs=40) as local:
            with distributed.Client(local, set_as_default=False) as client:
                yield client


def _content(manifest: dict) -> dict:
    """What a run decided, without what differs between any two runs (ids, times, paths, tags)."""
    out = {}
    for cid, entry in manifest["chapters"].items():
        err = entry["error"] or {}
        params = {k: v for k, v in entry["parameters"].items() if k != "upstream_run"}
        out[cid] = {"status": entry["status"], "results": entry["results"], "parameters": params,
                    "html": entry["html"], "error": (err.get("ename"), err.get("evalue"), err.get("cell"))}
    return out


def test_dask_run_records_the_same_as_a_local_run_and_runs_in_dask_workers(mini_project, cluster):
    local = runner.run("mini", None, progress=None, prewarm=False)  # the reference: plain local workers
    address = cluster.scheduler.address
    with pool_for(cluster) as pool:
        remote = runner.run("mini", None, progress=None, pool=pool,
                            tags={"executor": "dask", "scheduler": address})
        placements = dict(pool.placements)
    assert remote.manifest["tags"] == {"executor": "dask", "scheduler": address}
    # Same decisions: statuses, results, errors, parameters; F raised, G (needs F) was skipped.
    assert _content(remote.manifest) == _content(local.manifest)
    status = {c: v["status"] for c, v in remote.manifest["chapters"].items()}
    assert status == {"A": "ok", "B": "ok", "F": "failed", "G": "skipped"}
    assert remote.manifest["chapters"]["B"]["results"] == {"x_plus_one": 42}
    assert remote.manifest["chapters"]["F"]["error"]["ename"] == "ValueError"
    assert "needs F" in remote.manifest["chapters"]["G"]["error"]["evalue"]
    # The same files in the record (notebooks, HTML, results, documents), sealed in place.
    names = lambda d: sorted(str(p.relative_to(d)) for p in d.rglob("*"))  # noqa: E731
    assert names(remote.run_dir) == names(local.run_dir)
    assert remote.run_dir.parent == local.run_dir.parent
    # Chapters ran in the cluster's worker processes, not in this one.
    worker_pids = set(cluster.run(os.getpid).values())
    assert set(placements) == {"A", "B", "F"}
    assert {p["pid"] for p in placements.values()} <= worker_pids
    assert os.getpid() not in {p["pid"] for p in placements.values()}
    assert {p["worker"] for p in placements.values()} <= set(cluster.scheduler_info()["workers"])


def test_pool_refuses_multithreaded_workers_and_folders_workers_cannot_see(mini_project, cluster, tmp_path):
    with pytest.raises(ConfigError, match="cannot see .*nowhere"):
        DaskPool(cluster, "spikekit", str(tmp_path / "nowhere"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0", silence_logs=40) as threaded:
        with distributed.Client(threaded, set_as_default=False) as client:
            with pytest.raises(ConfigError, match="more than one thread.*--nthreads 1"):
                DaskPool(client, "spikekit", str(tmp_path))


def test_spike_run_executor_dask_records_the_executor_and_scheduler(mini_project, cluster, capsys, monkeypatch):
    from spikekit import cli

    address = cluster.scheduler.address
    code = cli.main(["run", "--spike", "mini", "--chapters", "A", "--executor", "dask", "--scheduler", address])
    assert code == 0
    run_dir = capsys.readouterr().out.strip().splitlines()[-1]
    manifest = runner.load_run(run_dir)[1]
    assert manifest["tags"] == {"executor": "dask", "scheduler": address}
    assert manifest["chapters"]["A"]["status"] == "ok" and manifest["chapters"]["A"]["results"]["x"] == 41
    # Without an address there is nothing to connect to: a clear error, before anything is written.
    monkeypatch.delenv("SPIKE_DASK_SCHEDULER", raising=False)
    assert cli.main(["run", "--spike", "mini", "--executor", "dask"]) == 2
    assert "--scheduler tcp://HOST:8786" in capsys.readouterr().err


def test_a_chapter_whose_dask_worker_dies_is_failed_and_its_dependents_skipped(mini_project, cluster):
    from tests.conftest import write_notebook

    # A's kernel kills the Dask worker process that runs it (its parent): the task errors (KilledWorker).
    params = ('spike = "mini"\nas_of = "2025-03-01 00:00"\ntimezone = "Asia/Shanghai"\nupstream_run = ""\n'
              'numbers_file = "mini/numbers.csv"\nbase = 41\nsleep_s = 0.0\n')
    write_notebook(mini_project["notebooks"] / "a.ipynb", [
        ("code", params, ["parameters"]),
        ("code", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
    ])
    with pool_for(cluster) as pool:
        outcome = runner.run("mini", None, chapters=["A", "B"], progress=None, pool=pool)
        assert not pool.workers[0].alive()
    status = {c: v["status"] for c, v in outcome.manifest["chapters"].items()}
    assert status == {"A": "failed", "B": "skipped"}
    assert outcome.manifest["chapters"]["A"]["error"]["ename"] == "KilledWorker"
    assert "needs A" in outcome.manifest["chapters"]["B"]["error"]["evalue"]
