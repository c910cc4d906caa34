"""`spike site`: the static record site, from real runs of a tiny playbook and from hand-made run folders,
opened in headless Chromium (Debian's chromium + chromium-driver) through file:// links only."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spikekit.engine import runner
from spikekit.core.errors import ConfigError
from spikekit.views.site import SITE_MARKER, build_site, diff_runs
from tests.conftest import PROJECT, tree_digest, write_notebook

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


# ----------------------------------------------------------------------------------------------------------
# Records: a two-chapter playbook whose chapters record a decision and a headline
# ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def site_project(tmp_path, monkeypatch):
    pb, data, nbdir = tmp_path / "playbook", tmp_path / "data", tmp_path / "nbs"
    (pb / "spikes").mkdir(parents=True)
    (data / "demo").mkdir(parents=True)
    (data / "demo" / "numbers.csv").write_text("x\n7\n", encoding="utf-8")
    params = ('spike = "demo"\nas_of = "2025-03-01 00:00"\ntimezone = "Asia/Shanghai"\nupstream_run = ""\n'
              'numbers_file = "demo/numbers.csv"\n')
    begin = "import spikekit as sk\nctx = sk.begin('{cid}', spike=spike, as_of=as_of, timezone=timezone, upstream_run=upstream_run)"
    write_notebook(nbdir / "01_alert.ipynb", [
        ("markdown", "# 01 Alert"),
        ("code", params + "threshold = 5", ["parameters"]),
        ("code", begin.format(cid="01")),
        ("code", "value = 7\ndecision = 'alert' if value > threshold else 'watch'\n"
                 "print(f'Alert check: value {value} against threshold {threshold}')\n"
                 "sk.record('decision', decision)\n"
                 "sk.record('headline', f'Value {value} vs threshold {threshold}: {decision}')"),
    ])
    write_notebook(nbdir / "02_go.ipynb", [
        ("markdown", "# 02 Go"),
        ("code", params, ["parameters"]),
        ("code", begin.format(cid="02")),
        ("code", "alert = sk.upstream('01', 'decision')\nverdict = 'go' if alert == 'alert' else 'no-go'\n"
                 "sk.record('verdict', verdict)\n"
                 "sk.record('headline', f'Verdict <{verdict}> & \"quoted\" after {alert}')"),
    ])
    (pb / "playbook.yaml").write_text(f"""
kernel: spikekit
timeout_s: 120
workers: 2
chapters:
  - {{id: "01", name: alert, notebook: {nbdir / '01_alert.ipynb'}, needs: [], inputs: [numbers]}}
  - {{id: "02", name: go, notebook: {nbdir / '02_go.ipynb'}, needs: ["01"], inputs: [numbers]}}
""", encoding="utf-8")
    (pb / "spikes" / "demo.yaml").write_text(
        "timezone: Asia/Shanghai\ndefault_as_of: '2025-03-01 00:00'\ndata:\n  numbers: demo/numbers.csv\n", encoding="utf-8")
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(pb))
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(data))
    monkeypatch.setenv("SPIKE_RECORDS", str(tmp_path / "records"))
    return {"root": tmp_path, "playbook": pb, "records": tmp_path / "records"}


@pytest.fixture
def two_real_runs(site_project):
    """Two real runs: the second, a day later with a higher threshold, flips 01's decision and 02's verdict."""
    first = runner.run("demo", "2025-03-01 00:00", progress=None)
    spike_file = site_project["playbook"] / "spikes" / "demo.yaml"
    spike_file.write_text(spike_file.read_text() + "parameters:\n  '01': {threshold: 9}\n", encoding="utf-8")
    second = runner.run("demo", "2025-03-02 00:00", progress=None)
    assert first.ok and second.ok
    return site_project | {"first": first, "second": second}


def _manifest(run_id, as_of, chapters, **extra):
    return {"run_id": run_id, "spike": "hand", "as_of": as_of, "status": "ok", "started": as_of, "duration_s": 1.5,
            "resumed_from": None, "tags": {}, "inputs": {"numbers": {"path": "hand/n.csv", "sha256": "a" * 64}},
            "chapters": chapters, **extra}


def _chapter(decision, headline, threshold, html="01_x.html"):
    return {"title": "Alert", "notebook": "01_x.ipynb", "html": html, "status": "ok", "duration_s": 0.5,
            "parameters": {"threshold": threshold, "upstream_run": "x"}, "error": None, "reused_from": None,
            "results": {"decision": decision, "headline": headline}}


@pytest.fixture
def hand_records(tmp_path):
    """Hand-made run folders, sealed read-only like the runner's; one headline holds markup."""
    records = tmp_path / "records"
    runs = [("20250301T000000Z-aaaa", "2025-03-01T00:00:00+08:00", "watch", "<script>alert(1)</script> & co", 5),
            ("20250302T000000Z-bbbb", "2025-03-02T00:00:00+08:00", "alert", "now alert", 5),
            ("20250303T000000Z-cccc", "2025-03-03T00:00:00+08:00", "alert", "still alert", 9)]
    for run_id, as_of, decision, headline, threshold in runs:
        folder = records / "hand" / run_id
        folder.mkdir(parents=True)
        manifest = _manifest(run_id, as_of, {"01": _chapter(decision, headline, threshold)},
                             tags={"replay": "r1", "step": 0} if run_id.endswith("cccc") else {})
        (folder / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
        (folder / "01_x.html").write_text(f"<html><body><h1>Chapter copy {run_id}</h1></body></html>", encoding="utf-8")
        for path in folder.iterdir():
            path.chmod(0o444)
    return records


# ----------------------------------------------------------------------------------------------------------
# Site content, safety and atomic rebuild (no browser)
# ----------------------------------------------------------------------------------------------------------
def test_site_pages_escape_text_copy_chapters_and_leave_records_untouched(hand_records):
    before = tree_digest(hand_records)
    outcome = build_site(hand_records)
    assert outcome.folder == hand_records / ".site"  # a dot-folder: never a spike's folder
    # Records are byte-identical (the site is the only new thing under the root).
    after = {k: v for k, v in tree_digest(hand_records).items() if not k.startswith(".site/")}
    assert after == before
    spike_page = (outcome.folder / "spikes" / "hand" / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in spike_page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in spike_page
    assert "replay r1 step 0" in spike_page
    # One diff page per consecutive pair, in as_of order; links are relative.
    diffs = sorted(p.name for p in (outcome.folder / "spikes" / "hand" / "diff").iterdir())
    assert diffs == ["20250301T000000Z-aaaa__20250302T000000Z-bbbb.html",
                     "20250302T000000Z-bbbb__20250303T000000Z-cccc.html"]
    for page in outcome.folder.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if "chapters" in page.parts:
            continue
        assert "file://" not in text and "http://" not in text and "https://" not in text
        assert "<script" not in text and "fetch(" not in text
    # The chapter notebooks are copies inside the site, not links back into the records.
    copy = outcome.folder / "spikes" / "hand" / "runs" / "20250302T000000Z-bbbb" / "chapters" / "01_x.html"
    assert "Chapter copy 20250302T000000Z-bbbb" in copy.read_text(encoding="utf-8")
    assert os.access(copy, os.W_OK)


def test_diff_names_changed_decisions_and_parameters():
    a = _manifest("a", "2025-03-01T00:00:00+08:00", {"01": _chapter("watch", "h1", 5)})
    b = _manifest("b", "2025-03-02T00:00:00+08:00", {"01": _chapter("alert", "h2", 9)})
    b["inputs"]["numbers"]["sha256"] = "b" * 64
    d = diff_runs(a, b)
    assert [(c["chapter"], c["decision_a"], c["decision_b"], c["decision_changed"]) for c in d["chapters"]] == \
        [("01", "watch", "alert", True)]
    # upstream_run differs by construction and is not reported.
    assert d["parameters"] == [{"chapter": "01", "name": "threshold", "a": 5, "b": 9}]
    assert d["inputs"] == [{"input": "numbers", "a": "a" * 64, "b": "b" * 64}]
    assert diff_runs(a, a)["parameters"] == [] and not diff_runs(a, a)["chapters"][0]["decision_changed"]


def test_out_folders_that_would_touch_records_are_refused(hand_records, tmp_path):
    run_folder = hand_records / "hand" / "20250302T000000Z-bbbb"
    with pytest.raises(ConfigError, match="inside the run folder"):
        build_site(hand_records, run_folder / "site")
    with pytest.raises(ConfigError, match="would replace the records folder"):
        build_site(hand_records, hand_records)
    with pytest.raises(ConfigError, match="would replace the records folder"):
        build_site(hand_records, tmp_path)
    stranger = tmp_path / "notes"
    stranger.mkdir()
    (stranger / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a site built by"):
        build_site(hand_records, stranger)
    assert (stranger / "mine.txt").read_text(encoding="utf-8") == "keep me"
    with pytest.raises(ConfigError, match="not found"):
        build_site(hand_records, tmp_path / "s", diff=("hand/nope", "20250301T000000Z-aaaa"))


def test_rebuild_swaps_the_whole_site_and_leaves_no_temporary_folder(hand_records, tmp_path):
    out = tmp_path / "public" / "site"
    outcome = build_site(hand_records, out, diff=("hand/20250301T000000Z-aaaa", "20250303T000000Z-cccc"))
    # The asked-for non-consecutive diff is there too, with the threshold change.
    assert outcome.diff_page.name == "20250301T000000Z-aaaa__20250303T000000Z-cccc.html"
    text = outcome.diff_page.read_text(encoding="utf-8")
    assert "threshold" in text and "watch" in text and "alert" in text
    # A rebuild without --diff: the page only the earlier build wrote is gone, the rest rebuilt.
    build_site(hand_records, out)
    assert not outcome.diff_page.exists() and (out / SITE_MARKER).exists() and (out / "index.html").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["site"]


def _sealed_run(records: Path, spike: str, run_id: str) -> Path:
    """A hand-made finished run of ``spike``, read-only like the runner's."""
    folder = records / spike / run_id
    folder.mkdir(parents=True)
    manifest = _manifest(run_id, "2025-03-04T00:00:00+08:00", {"01": _chapter("alert", "kept", 5)})
    (folder / "run.json").write_text(json.dumps(dict(manifest, spike=spike)), encoding="utf-8")
    (folder / "01_x.html").write_text("<html><body>kept</body></html>", encoding="utf-8")
    for path in folder.iterdir():
        path.chmod(0o444)
    return folder


def test_a_spike_named_site_keeps_its_sealed_run_when_the_site_is_rebuilt(hand_records):
    build_site(hand_records)
    # 'site' is a legal spike name; its run lands in <records>/site after the first build.
    run = _sealed_run(hand_records, "site", "20250304T000000Z-dddd")
    before = tree_digest(run)
    outcome = build_site(hand_records)
    assert tree_digest(run) == before
    assert (outcome.folder / "spikes" / "site" / "runs" / "20250304T000000Z-dddd" / "index.html").is_file()
    # Asked for explicitly, a folder with a spike's name is refused (even before any run of it exists).
    with pytest.raises(ConfigError, match="folder of spike 'site'"):
        build_site(hand_records, hand_records / "site")
    with pytest.raises(ConfigError, match="inside the folder of spike 'later'"):
        build_site(hand_records, hand_records / "later" / "pages")
    assert tree_digest(run) == before


def test_a_records_root_inside_the_site_folder_stops_the_rebuild_and_is_kept(hand_records, tmp_path):
    out = tmp_path / "public"
    build_site(hand_records, out)
    # Someone keeps another records root inside the site folder.
    nested = _sealed_run(out / "records", "hand", "20250305T000000Z-eeee")
    before = tree_digest(nested)
    with pytest.raises(ConfigError, match=r"holds run records: records/hand/20250305T000000Z-eeee/run\.json"):
        build_site(hand_records, out)
    assert tree_digest(nested) == before and (out / "index.html").is_file()
    # Its records root refused as the site of its parent folder too.
    with pytest.raises(ConfigError, match="would replace the records folder"):
        build_site(out / "records", out)
    assert tree_digest(nested) == before


def test_files_the_site_did_not_write_stop_a_rebuild_and_are_kept(hand_records, tmp_path):
    out = tmp_path / "public" / "site"
    build_site(hand_records, out)
    (out / "spikes" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"holds files the last `spike site` build did not write: spikes/notes\.txt"):
        build_site(hand_records, out)
    assert (out / "spikes" / "notes.txt").read_text(encoding="utf-8") == "mine"
    # A marker from an older build (no file list) is not trusted either.
    (out / "spikes" / "notes.txt").unlink()
    (out / SITE_MARKER).write_text("built by spike site; safe to delete and rebuild\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="older `spike site`"):
        build_site(hand_records, out)
    assert (out / "index.html").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["site"]  # no temporary build left behind


def test_the_site_is_readable_by_everyone_whatever_the_umask(hand_records, tmp_path):
    old = os.umask(0o077)
    try:
        outcome = build_site(hand_records, tmp_path / "pub" / "site")
    finally:
        os.umask(old)
    modes = {p.relative_to(outcome.folder).as_posix(): p.stat().st_mode & 0o777
             for p in [outcome.folder, *outcome.folder.rglob("*")]}
    assert modes["."] == 0o755 and modes["spikes/hand"] == 0o755 and modes["index.html"] == 0o644
    assert modes["spikes/hand/runs/20250302T000000Z-bbbb/chapters/01_x.html"] == 0o644
    assert set(modes.values()) == {0o755, 0o644}


def test_a_damaged_run_json_is_skipped_with_a_warning_naming_it(hand_records, tmp_path, capsys):
    bad = hand_records / "hand" / "20250306T000000Z-ffff"
    bad.mkdir()
    (bad / "run.json").write_text("[1, 2]", encoding="utf-8")
    outcome = build_site(hand_records, tmp_path / "s")
    assert "runs/20250302T000000Z-bbbb" in " ".join(outcome.pages)
    assert not any("ffff" in page for page in outcome.pages)
    err = capsys.readouterr().err
    assert f"spike: warning: skipped: run record {bad / 'run.json'} holds a JSON list" in err


def test_spike_site_command_prints_the_index(hand_records, tmp_path):
    out = tmp_path / "cli-site"
    proc = subprocess.run([sys.executable, "-m", "spikekit.cli", "site", "--records", str(hand_records), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(out / "index.html")
    bad = subprocess.run([sys.executable, "-m", "spikekit.cli", "site", "--records", str(hand_records),
                          "--out", str(hand_records / "hand" / "20250301T000000Z-aaaa" / "x")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "inside the run folder" in bad.stderr


# ----------------------------------------------------------------------------------------------------------
# The story: decision changes, replay pages, briefs, run-to-run diff
# ----------------------------------------------------------------------------------------------------------
BRIEF_MD = """# Stand-up brief 2025-03-02

## Numbers (3 min)
- sell-through **up** 40%
- <script>alert(2)</script> stays text

| role | task |
|---|---|
| content | reshoot |
"""


@pytest.fixture
def story_records(hand_records):
    """hand_records plus a second chapter whose call stays 'go' across a failed run, chapter 10's brief.md in run
    bbbb and a replay r1 over runs bbbb and cccc with its timeline figure."""
    calls_02 = {"20250301T000000Z-aaaa": ("go", "ok"), "20250302T000000Z-bbbb": (None, "failed"),
                "20250303T000000Z-cccc": ("go", "ok")}
    for run_id, (verdict, status) in calls_02.items():
        manifest_path = hand_records / "hand" / run_id / "run.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["chapters"]["02"] = {"title": "Go", "status": status, "parameters": {}, "html": None,
                                      "results": {} if verdict is None else {"verdict": verdict, "headline": "2: go"}}
        manifest_path.chmod(0o644)
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        manifest_path.chmod(0o444)
    (hand_records / "hand" / "20250302T000000Z-bbbb" / "brief.md").write_text(BRIEF_MD, encoding="utf-8")
    replay = hand_records / "hand" / "replays" / "r1"
    replay.mkdir(parents=True)
    (replay / "replay.json").write_text(json.dumps({
        "format": "spikekit.engine.replay/1", "replay_id": "r1", "spike": "hand", "from": "2025-03-02T00:00:00+08:00",
        "to": "2025-03-03T00:00:00+08:00", "every": "1d", "chapters": ["01", "02"],
        "steps": [{"as_of": "2025-03-02T00:00:00+08:00", "run_id": "20250302T000000Z-bbbb", "status": "ok"},
                  {"as_of": "2025-03-03T00:00:00+08:00", "run_id": "20250303T000000Z-cccc", "status": "ok"}],
        "first_actions": {"01": "2025-03-02T00:00:00+08:00"}}), encoding="utf-8")
    # A real PNG (1x1), so the browser can load it.
    (replay / "timeline.png").write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"))
    return hand_records


def test_decision_timeline_has_one_row_per_change_and_no_nan(story_records):
    from spikekit.views.site import decision_changes, decision_timeline, read_runs

    runs = read_runs(story_records)["hand"]
    full = decision_timeline(story_records, "hand", runs)
    assert len(full) == 6  # every chapter of every run, the failed one included
    changes = decision_changes(full)
    assert [(r["chapter"], r["previous"], r["decision"], r["held"], r["run_id"][-4:])
            for r in changes.to_dict("records")] == [
        ("01", "", "watch", 1, "aaaa"), ("01", "watch", "alert", 2, "bbbb"),  # the threshold change did not flip it
        ("02", "", "go", 2, "aaaa"),  # the failed run in between recorded nothing: not a change, not a row
    ]
    assert not changes.isna().any().any()
    page = (build_site(story_records).folder / "spikes" / "hand" / "index.html").read_text(encoding="utf-8")
    timeline_html = page.split("<h2>Decision timeline</h2>", 1)[1].split("<h2>", 1)[0]
    assert timeline_html.count("<tr") == 1 + 3  # header + one row per change
    assert "nan" not in timeline_html.lower() and "None" not in timeline_html


def test_site_links_replay_pages_their_figures_and_renders_every_brief(story_records):
    outcome = build_site(story_records)
    spike_dir = outcome.folder / "spikes" / "hand"
    page = (spike_dir / "index.html").read_text(encoding="utf-8")
    assert 'href="replays/r1/index.html"' in page and 'src="replays/r1/timeline.png"' in page
    assert (spike_dir / "replays" / "r1" / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    replay_page = (spike_dir / "replays" / "r1" / "index.html").read_text(encoding="utf-8")
    assert 'src="timeline.png"' in replay_page
    assert 'href="../../runs/20250302T000000Z-bbbb/index.html"' in replay_page
    assert 'href="../../runs/20250302T000000Z-bbbb/brief.html"' in replay_page
    assert replay_page.count("brief</a>") == 1  # only bbbb has a brief
    brief = (spike_dir / "runs" / "20250302T000000Z-bbbb" / "brief.html").read_text(encoding="utf-8")
    assert "<h1>Stand-up brief 2025-03-02</h1>" in brief and "<strong>up</strong>" in brief
    assert "<table>" in brief and "<td>reshoot</td>" in brief
    assert "<script>" not in brief and "&lt;script&gt;" in brief
    run_page = (spike_dir / "runs" / "20250302T000000Z-bbbb" / "index.html").read_text(encoding="utf-8")
    assert 'href="brief.html"' in run_page
    assert not (spike_dir / "runs" / "20250301T000000Z-aaaa" / "brief.html").exists()


def test_diff_page_leads_with_the_decisions_that_flipped(story_records):
    outcome = build_site(story_records)
    page = (outcome.folder / "spikes" / "hand" / "diff" /
            "20250301T000000Z-aaaa__20250302T000000Z-bbbb.html").read_text(encoding="utf-8")
    order = [page.index(h) for h in ("Decisions that flipped (2)", "Parameters that differ", "Inputs that differ",
                                     "Every chapter")]
    assert order == sorted(order)
    flipped = page.split("Decisions that flipped", 1)[1].split("<h2>", 1)[0]
    assert "01 Alert" in flipped and "watch" in flipped and "alert" in flipped
    assert "02 Go" in flipped and "–" in flipped  # go -> nothing recorded (the failed run)


def _spike(*args, records):
    return subprocess.run([sys.executable, "-m", "spikekit.cli", *args, "--records", str(records)],
                          capture_output=True, text=True, timeout=120)


def test_spike_diff_prints_flipped_decisions_changed_parameters_and_inputs(hand_records):
    proc = _spike("diff", "hand/20250301T000000Z-aaaa", "20250303T000000Z-cccc", records=hand_records)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("A = 20250301T000000Z-aaaa (as of 2025-03-01")
    body = lines[lines.index("decisions that flipped: 1"):]
    assert body == ["decisions that flipped: 1", "  01 Alert: watch -> alert",
                    "parameters that differ: 1", "  01 threshold: 5 -> 9",
                    "inputs that differ: 0"]
    same = _spike("diff", "20250302T000000Z-bbbb", "20250303T000000Z-cccc", "--json", records=hand_records)
    assert same.returncode == 0, same.stderr
    data = json.loads(same.stdout)
    assert data["decisions_flipped"] == []
    assert data["parameters"] == [{"chapter": "01", "name": "threshold", "a": 5, "b": 9}]
    assert data["inputs"] == []
    missing = _spike("diff", "hand/nope", "20250303T000000Z-cccc", records=hand_records)
    assert missing.returncode == 2 and missing.stderr.startswith("spike: error:") and "Traceback" not in missing.stderr


# ----------------------------------------------------------------------------------------------------------
# In a real browser
# ----------------------------------------------------------------------------------------------------------
def _chromium_or_skip():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        subprocess.run(["bash", str(PROJECT / "scripts" / "system-deps.sh")], capture_output=True, timeout=600)
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("no /usr/bin/chromium + /usr/bin/chromedriver, and scripts/system-deps.sh could not install "
                    "them (needs root or sudo, and network to Debian's packages)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the [dev] extra")
    from selenium.webdriver.chrome.service import Service

    return webdriver, Service


@pytest.fixture
def browser(tmp_path):
    webdriver, Service = _chromium_or_skip()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,1000"):
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager never downloads a browser or driver.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _save_screenshot(driver, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot))
    target = os.environ.get("SPIKE_TEST_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(target) / name)
    return shot


def test_site_in_headless_chromium_index_to_spike_to_run_to_chapter_notebook(two_real_runs, browser, tmp_path):
    from selenium.webdriver.common.by import By

    records = two_real_runs["records"]
    before = tree_digest(records)
    outcome = build_site(records)
    assert {k: v for k, v in tree_digest(records).items() if not k.startswith(".site/")} == before
    first, second = two_real_runs["first"].manifest, two_real_runs["second"].manifest

    browser.get(outcome.index.as_uri())
    assert browser.title == "Spike records"
    browser.find_element(By.LINK_TEXT, "demo").click()
    assert browser.title == "Spike demo"
    body = browser.find_element(By.TAG_NAME, "body").text
    # The decision timeline, across both runs, in as_of order: 01 alerts, then watches at the higher threshold.
    assert "Value 7 vs threshold 5: alert" in body and "Value 7 vs threshold 9: watch" in body
    assert body.index("threshold 5: alert") < body.index("threshold 9: watch")
    assert 'Verdict <go> & "quoted" after alert' in body  # escaped in the HTML, shown as typed
    assert 'Verdict <no-go> & "quoted" after watch' in body

    # The diff between the two consecutive runs.
    browser.find_element(By.PARTIAL_LINK_TEXT, f"{first['run_id']} →").click()
    diff_text = browser.find_element(By.TAG_NAME, "body").text
    assert "Parameters that differ" in diff_text and "threshold" in diff_text
    assert "2 chapter decision(s) differ" in diff_text
    browser.back()

    browser.find_element(By.LINK_TEXT, second["run_id"]).click()
    assert browser.title == f"Run {second['run_id']} of demo"
    run_text = browser.find_element(By.TAG_NAME, "body").text
    assert "Value 7 vs threshold 9: watch" in run_text and "no-go" in run_text
    assert second["inputs"]["numbers"]["sha256"] in run_text
    _save_screenshot(browser, tmp_path, "site-run-page.png")
    run_page = browser.current_url

    browser.find_elements(By.LINK_TEXT, "notebook")[0].click()
    assert browser.current_url.startswith("file://") and browser.current_url.endswith("/chapters/01_alert.html")
    notebook_text = browser.find_element(By.TAG_NAME, "body").text
    assert "Alert check: value 7 against threshold 9" in notebook_text
    assert str(records / ".site") in browser.current_url
    # The seller's copy: linked from the full copy's top (and back), and from the run page; no code in it.
    browser.find_element(By.LINK_TEXT, "The seller's copy, without code").click()
    assert browser.current_url.endswith("/chapters/01_alert.seller.html")
    seller_text = browser.find_element(By.TAG_NAME, "body").text
    assert "Headline: Value 7 vs threshold 9: watch" in seller_text
    assert "Alert check" not in seller_text  # the chapter's printed log is for analysts: the full copy has it
    assert not browser.find_elements(By.CSS_SELECTOR, "pre, .jp-CodeMirrorEditor, details.spikekit-code")
    browser.find_element(By.LINK_TEXT, "The full copy, with the code").click()
    assert browser.current_url.endswith("/chapters/01_alert.html")
    browser.get(run_page)
    browser.find_elements(By.LINK_TEXT, "seller's copy")[0].click()
    assert browser.current_url.endswith("/chapters/01_alert.seller.html")


def test_site_in_headless_chromium_spike_to_replay_to_brief(story_records, browser, tmp_path):
    from selenium.webdriver.common.by import By

    outcome = build_site(story_records)
    browser.get(outcome.index.as_uri())
    browser.find_element(By.LINK_TEXT, "hand").click()
    assert browser.title == "Spike hand"
    body = browser.find_element(By.TAG_NAME, "body").text
    timeline = body.split("Decision timeline", 1)[1].split("Replays", 1)[0]
    assert "nan" not in timeline.lower() and "watch" in timeline and "alert" in timeline
    figure = browser.find_element(By.CSS_SELECTOR, 'img[alt="replay timeline"]')
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", figure) == 1

    browser.find_element(By.LINK_TEXT, "r1").click()
    assert browser.title == "Replay r1 of hand"
    assert browser.current_url.endswith("/spikes/hand/replays/r1/index.html")
    steps = browser.find_element(By.TAG_NAME, "body").text
    assert "20250302T000000Z-bbbb" in steps and "20250303T000000Z-cccc" in steps
    _save_screenshot(browser, tmp_path, "site-replay-page.png")

    browser.find_element(By.LINK_TEXT, "brief").click()
    assert browser.title == "Stand-up brief: hand, run 20250302T000000Z-bbbb"
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h1")]
    assert headings[-1] == "Stand-up brief 2025-03-02"  # the brief's own heading, under the page's
    assert [td.text for td in browser.find_elements(By.TAG_NAME, "td")] == ["content", "reshoot"]
    assert "<script>alert(2)</script> stays text" in browser.find_element(By.TAG_NAME, "body").text
    _save_screenshot(browser, tmp_path, "site-brief-page.png")
