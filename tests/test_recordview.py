"""Chapter records a seller reads: the call first, tables for people, no test-only cells (issue 16).

The browser test runs chapter 01 of the starry-mug sample into a scratch records root, opens its HTML in
headless Chromium and saves a screenshot (to $SPIKE_TEST_ARTIFACTS when set, else the test's tmp folder)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from spikekit.views import recordview
from spikekit.core import tables
from spikekit.core.record import RECORD_MIME
from spikekit.core.show import DECISION_META
from tests.conftest import PROJECT


# ----------------------------------------------------------------------------------------------------------
# One table formatter
# ----------------------------------------------------------------------------------------------------------
def test_tables_read_as_people_write_them():
    frame = pd.DataFrame({
        "growth": [120.3966, 1.5e7, math.nan, math.inf],
        "share": [0.123456, 0.5, -0.0000001, None],
        "orders": [1234567, 2, 3, 4],
        "day": pd.to_datetime(["2025-03-01", "2025-03-02", None, "2025-03-04"]),
        "first_alert": pd.to_datetime(["2025-03-01 08:30", None, None, "2025-03-04 00:00"], format="ISO8601"),
        "keyword": ["星空咖啡杯", None, "mug", "杯"],
    }, index=pd.Index(["a", "b", "c", "d"], name="series"))
    text = tables.format_frame(frame)
    assert list(text.columns) == ["series", "growth", "share", "orders", "day", "first_alert", "keyword"]
    assert list(text["growth"]) == ["120", "15,000,000", "–", "∞"]
    assert list(text["share"]) == ["0.123", "0.500", "0", "–"]
    assert list(text["orders"]) == ["1,234,567", "2", "3", "4"]
    assert list(text["day"]) == ["2025-03-01", "2025-03-02", "–", "2025-03-04"]  # a day: no 00:00:00
    assert list(text["first_alert"]) == ["2025-03-01 08:30", "–", "–", "2025-03-04 00:00"]
    assert list(text["keyword"]) == ["星空咖啡杯", "–", "mug", "杯"]

    html = tables.frame_html(frame)
    for raw in ("e+0", "NaT", "nan", "NaN", "inf", "None"):
        assert raw not in html
    assert "<th>series</th>" in html and "星空咖啡杯" in html
    assert 'class="dataframe' in html and "<tbody>\n    <tr>\n      <th>" not in html  # no index column


def test_sk_table_shows_the_formatted_frame():
    import spikekit as sk

    shown = sk.table(pd.DataFrame({"x": [1.5e7, math.nan]}))
    assert "15,000,000" in shown._repr_html_() and "–" in shown._repr_html_()
    assert "e+07" not in repr(shown) and "15,000,000" in repr(shown)


def test_p_values_never_in_scientific_notation():
    assert [tables.format_p(p) for p in (1.5e-79, 2.9e-05, 0.00042, 0.0123, 0.5)] == [
        "< 0.0001", "< 0.0001", "0.0004", "0.012", "0.5"]


def test_single_values_and_small_floats():
    assert tables.format_value(1.203966e+02) == "120.4"
    assert tables.format_value(0.0000123) == "0"  # never 1.23e-05
    assert tables.format_value(pd.NaT) == "–"
    assert tables.format_value(pd.Timestamp("2025-03-09")) == "2025-03-09"
    assert tables.format_value(pd.Timestamp("2025-03-09 12:00", tz="Asia/Shanghai")) == "2025-03-09 12:00"
    assert tables.format_value(-math.inf) == "−∞"


# ----------------------------------------------------------------------------------------------------------
# The reader's copy of an executed notebook
# ----------------------------------------------------------------------------------------------------------
def _executed_notebook():
    nb = nbformat.v4.new_notebook()
    title = nbformat.v4.new_markdown_cell("# 01 预警系统 · Early warning\n\nMethods text.")
    params = nbformat.v4.new_code_cell('spike = "starry-mug"\nthreshold = 5\n')
    params.metadata["tags"] = ["parameters"]
    # papermill writes non-ASCII characters of strings as \u escapes
    injected = nbformat.v4.new_code_cell('# Parameters\nspike = "starry-mug"\nthreshold = 9\n'
                                         'keyword_groups = {"\\u529e\\u516c\\u5ba4": ["\\u676f"]}\n')
    injected.metadata["tags"] = ["injected-parameters"]
    section = nbformat.v4.new_markdown_cell("## 2. Growth chart")
    figure = nbformat.v4.new_code_cell("fig = plot()")
    figure.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]
    call = nbformat.v4.new_code_cell("sk.decision_box(...)")
    call.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "### Early warning: **ALERT**\n\n- grew 320%"},
                                           metadata={DECISION_META: True})]
    rec = nbformat.v4.new_code_cell("sk.record(...)")
    rec.outputs = [nbformat.v4.new_output("display_data", data={RECORD_MIME: {"name": n, "value": v}, "text/plain": "r"})
                   for n, v in [("decision", "alert"), ("headline", "星空咖啡杯 grew 320%"),
                                ("remaining_demand", {"estimate": 12345.678, "low": 10000.4, "high": 15000.2, "conf": 0.9}),
                                ("cost_per_order", 3.14159),
                                ("cart_lift", {"lift": 11.04, "low": 9.88, "high": 12.1, "conf": 0.9, "p_value": 1.4e-35}),
                                ("alerts", {"__spikekit_type__": "dataframe", "columns": ["a"], "dtypes": {"a": "int64"},
                                            "records": [{"a": 1}]})]]
    check = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\n# the scenario truth file\nprint(decision)")
    check.metadata["tags"] = [recordview.TEST_ONLY_TAG]
    nb.cells = [title, params, injected, section, figure, call, rec, check]
    return nb, figure.id


def test_reader_copy_opens_with_the_call_and_drops_test_only_cells():
    nb, figure_id = _executed_notebook()
    reader = recordview.prepare(nb)
    assert len(nb.cells) == 8  # the executed notebook itself is untouched
    sources = [str(c.source) for c in reader.cells]
    assert not any("truth" in s for s in sources)
    opening = sources[0]
    assert reader.cells[0].cell_type == "markdown"
    assert opening.index("### Early warning: **ALERT**") < opening.index("**Headline:** 星空咖啡杯 grew 320%")
    assert "12,346 (90% interval 10,000 – 15,000)" in opening  # key number with its interval
    assert "<th>cost_per_order</th><td>3.14</td>" in opening
    assert "<th>cart_lift</th><td>11.0 (90% interval 9.88 – 12.1)</td>" in opening
    assert "alerts" not in opening  # tables stay in the story
    assert f'href="#cell-id={figure_id}">Figure 1 · 2. Growth chart' in opening
    # Parameters as the run used them (the injected cell wins), Chinese as characters.
    assert "<th>threshold</th><td>9</td>" in opening
    assert '{"办公室": ["杯"]}' in opening and "\\u" not in opening
    shown = [o.data["text/plain"] for c in reader.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if RECORD_MIME in o.get("data", {})]
    assert "recorded remaining_demand: 12,346 (90% interval 10,000 – 15,000)" in shown
    assert "recorded alerts: a table of 1 rows × 1 columns" in shown
    injected_copy = next(c for c in reader.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "keyword_groups = {'办公室': ['杯']}" in injected_copy.source and "\\u" not in injected_copy.source


def _exported(nb) -> str:
    from spikekit.engine.runner import _html_exporter

    body, _ = _html_exporter().from_notebook_node(nb)
    return body


def test_seller_copy_has_the_call_story_and_figures_but_no_code():
    nb, figure_id = _executed_notebook()
    log = nbformat.v4.new_code_cell("print('fitting...')\nresult")
    log.outputs = [nbformat.v4.new_output("stream", name="stdout", text="fitting...\n"),
                   nbformat.v4.new_output("execute_result", data={"text/plain": "go 12 units"}, execution_count=3)]
    nb.cells.append(log)
    # The pages' bodies (the style sheet names the code classes too).
    full = _exported(recordview.prepare(nb, ("The seller's copy, without code", "01_x.seller.html"))).split("<body")[1]
    seller = _exported(recordview.seller_copy(nb, full_copy="01_x.html")).split("<body")[1]
    assert recordview.seller_name("01_x.html") == "01_x.seller.html"
    # The full copy keeps its (folded) code and links the seller's copy; the seller's copy links back.
    code_tokens = (">plot<", ">decision_box<", ">record<", ">print<", "jp-CodeMirrorEditor", "spikekit-code")
    assert all(token in full for token in code_tokens) and 'href="01_x.seller.html"' in full
    assert 'href="01_x.html"' in seller
    for code in code_tokens + ("<pre", "fitting...", "recorded remaining_demand", "NBVAL", "truth", "Parameters ("):
        assert code not in seller, code
    # Decision first, the readable parameters table, the same figures, a bare value as text.
    assert seller.index("Early warning: <strong>ALERT</strong>") < seller.index("Headline:") < seller.index("2. Growth chart")
    assert "<th>threshold</th><td>9</td>" in seller and "办公室" in seller
    assert seller.count("data:image/png;base64,iVBORw0KGgo=") == full.count("data:image/png;base64,iVBORw0KGgo=") == 1
    assert f"cell-id={figure_id}" in seller  # the call's figure link still has its target
    assert "go 12 units" in seller and "Out[" not in seller
    assert len(nb.cells) == 9  # the executed notebook itself is untouched


def test_every_truth_check_cell_in_the_chapters_is_tagged_test_only():
    checked = 0
    for path in sorted((PROJECT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if "NBVAL_CHECK_OUTPUT" in source or "truth" in source.lower() and cell["cell_type"] == "code":
                assert recordview.TEST_ONLY_TAG in cell["metadata"].get("tags", []), f"{path.name}: {source[:60]!r}"
                checked += 1
    assert checked >= 12


# ----------------------------------------------------------------------------------------------------------
# A real chapter record, in a browser
# ----------------------------------------------------------------------------------------------------------
def test_chapter_record_in_headless_chromium_leads_with_the_call(records_dir, tmp_path):
    from tests.test_site import _chromium_or_skip, _save_screenshot

    webdriver, Service = _chromium_or_skip()
    from selenium.webdriver.common.by import By

    from spikekit.engine import runner
    from tests.test_site import CHROMEDRIVER, CHROMIUM

    outcome = runner.run("starry-mug", None, chapters=["01"], progress=None)
    assert outcome.ok
    entry = outcome.manifest["chapters"]["01"]
    page = outcome.run_dir / entry["html"]
    notebook = nbformat.read(str(outcome.run_dir / entry["notebook"]), as_version=4)
    assert any("NBVAL_CHECK_OUTPUT" in c.source for c in notebook.cells)  # nbval's cell is in the notebook ...

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,1000"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        browser.get(page.as_uri())
        body = browser.find_element(By.TAG_NAME, "body").text
        _save_screenshot(browser, tmp_path, "record-01-early-warning.png")
        decision = str(entry["results"]["decision"]).upper()
        first_code = browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell")[0]
        call = browser.find_element(By.XPATH, "//*[contains(text(), 'Early warning')]")
        assert call.location["y"] < first_code.location["y"]
        assert f"Early warning: {decision}" in body
        assert body.index(entry["results"]["headline"][:20]) < body.index("Parameters used")
        for raw in (r"e\+0", r"\bNaT\b", r"\bnan\b", r"truth"):  # ... but never in what a reader sees
            assert not re.search(raw, body, flags=re.IGNORECASE), raw
        assert "\\u" not in body
        # Code is folded: its text is not visible until opened.
        assert "sk.begin(" not in body
        assert browser.find_elements(By.CSS_SELECTOR, "details.spikekit-code")

        # The seller's copy beside it: recorded in the manifest and the seal, linked from the full copy's top,
        # the same call and figures, no code anywhere in it.
        seller = outcome.run_dir / entry["seller_html"]
        assert entry["seller_html"] == "01_early_warning.seller.html" and seller.is_file()
        sealed = json.loads((outcome.run_dir / "seal.json").read_text(encoding="utf-8"))
        assert entry["seller_html"] in json.dumps(sealed)
        figures_full = browser.find_elements(By.CSS_SELECTOR, "img")
        link = browser.find_element(By.LINK_TEXT, "The seller's copy, without code")
        assert link.location["y"] < call.location["y"] + 400
        link.click()
        assert browser.current_url.endswith("01_early_warning.seller.html")
        seller_body = browser.find_element(By.TAG_NAME, "body").text
        _save_screenshot(browser, tmp_path, "record-01-early-warning-seller.png")
        assert f"Early warning: {decision}" in seller_body and entry["results"]["headline"][:20] in seller_body
        assert len(browser.find_elements(By.CSS_SELECTOR, "img")) == len(figures_full) >= 1
        assert not browser.find_elements(By.CSS_SELECTOR, "pre, .jp-CodeCell .jp-InputArea, details.spikekit-code, .jp-CodeMirrorEditor")
        source = seller.read_text(encoding="utf-8")
        assert "sk.begin(" not in source and "import spikekit" not in source and "<pre" not in source
    finally:
        browser.quit()
