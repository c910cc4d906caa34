"""The reader's copy of an executed chapter: the call first, then the story, code folded, no test-only cells.

The runner passes each executed notebook through ``prepare`` before exporting its HTML (the notebook file in
the record stays as executed). ``prepare`` returns a copy that
- drops cells tagged ``TEST_ONLY_TAG`` (the nbval checks against the scenario truth file: nbval still runs
  them from notebooks/, a reader never sees them);
- opens with "The call": the chapter's decision box(es) (outputs ``sk.decision_box`` marked), the recorded
  headline, the recorded key numbers with their intervals, and links to the figures further down;
- then the parameters used, as a table (Chinese as characters, dicts and lists as readable text);
- then the notebook as it ran. Code inputs are folded by the template (templates/spikekit_offline).

``seller_copy`` makes the seller's copy written beside it (``NN_name.seller.html``): the same call, story,
figures and tables, without any code: no code inputs, no parameters cells (the parameters table in the call
stands for them), no printed logs or record echoes (the key numbers stand for those). Each copy links the other.
"""
from __future__ import annotations

import ast
import copy
import html
import json
from typing import Any

from ..core.record import from_jsonable, read_notebook_records
from ..core.show import DECISION_META
from ..core.tables import MISSING, format_value

TEST_ONLY_TAG = "spikekit-test-only"
SELLER_SUFFIX = ".seller.html"
_PARAMETER_TAGS = {"parameters", "injected-parameters"}
_SKIPPED_RESULTS = {"decision", "headline"}  # shown in the call itself
_ESTIMATE_KEYS = ("estimate", "value", "lift", "mean", "rate")
_INTERVAL_KEYS = (("low", "high"), ("lo", "hi"), ("lower", "upper"))


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def _decision_boxes(nb) -> list[str]:
    boxes = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if output.get("metadata", {}).get(DECISION_META) and "text/markdown" in output.get("data", {}):
                boxes.append(str(output["data"]["text/markdown"]))
    return boxes


def _figures(nb) -> list[tuple[str, str]]:
    """(cell id, the section heading above it) of every code cell that shows an image."""
    found, heading = [], ""
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            for line in str(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
                    break
            continue
        images = [o for o in cell.get("outputs", []) if {"image/png", "image/svg+xml", "image/jpeg"} & set(o.get("data", {}))]
        if images and cell.get("id"):
            found.append((cell["id"], heading))
    return found


def _interval_text(value: dict) -> str | None:
    estimate = next((value[k] for k in _ESTIMATE_KEYS if k in value), None)
    for low, high in _INTERVAL_KEYS:
        if low in value and high in value:
            conf = value.get("conf")
            level = f"{float(conf):.0%} " if isinstance(conf, (int, float)) and 0 < conf < 1 else ""
            return (f"{format_value(estimate)} ({level}interval {format_value(value[low])} – "
                    f"{format_value(value[high])})")
    return None


def key_number_text(value: Any) -> str | None:
    """A recorded result as one short line, or None for tables (they appear in the story below)."""
    import pandas as pd

    value = from_jsonable(value)
    if isinstance(value, pd.DataFrame):
        return None
    if isinstance(value, dict):
        interval = _interval_text(value)
        if interval is not None:
            return interval
        text = format_value(value)
    else:
        text = format_value(value)
    return text if len(text) <= 200 else text[:197] + "…"


def _parameters(nb) -> list[tuple[str, Any]]:
    """Name and value of each parameter, as the run used them (papermill's injected cell wins)."""
    values: dict[str, Any] = {}
    for tag in ("parameters", "injected-parameters"):
        for cell in nb.cells:
            if cell.get("cell_type") != "code" or tag not in _tags(cell):
                continue
            try:
                tree = ast.parse(str(cell.get("source", "")))
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    try:
                        values[node.targets[0].id] = ast.literal_eval(node.value)
                    except ValueError:
                        values[node.targets[0].id] = ast.unparse(node.value)
    return list(values.items())


def _parameter_text(value: Any) -> str:
    if isinstance(value, str):
        return value if value else MISSING
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False)  # Chinese as characters, structure still visible
    return format_value(value)


def _escape_md(text: str) -> str:
    return html.escape(str(text), quote=False).replace("*", "\\*").replace("_", "\\_")


def seller_name(html_name: str) -> str:
    """``01_early_warning.html`` -> ``01_early_warning.seller.html`` (the code-free copy beside it)."""
    stem = html_name[:-len(".html")] if html_name.endswith(".html") else html_name
    return stem + SELLER_SUFFIX


def call_markdown(nb, other_copy: tuple[str, str] | None = None) -> str:
    """The opening cell: decision box, headline, key numbers, figure links, parameters; ``other_copy``
    (text, relative link) points at the record's other HTML copy."""
    results = read_notebook_records(nb)
    parts = ["## The call", ""]
    if other_copy:
        text, target = other_copy
        parts += [f'<p class="spikekit-other-copy"><a href="{html.escape(target, quote=True)}">'
                  f"{html.escape(text)}</a></p>", ""]
    for box in _decision_boxes(nb):
        parts += [box, ""]
    headline = results.get("headline")
    if headline:
        parts += [f"**Headline:** {_escape_md(headline)}", ""]
    if not _decision_boxes(nb) and "decision" in results:
        parts += [f"**Decision:** {_escape_md(format_value(results['decision']))}", ""]
    rows = []
    for name, value in results.items():
        if name in _SKIPPED_RESULTS:
            continue
        text = key_number_text(value)
        if text is not None:
            rows.append(f"<tr><th>{html.escape(name)}</th><td>{html.escape(text, quote=False)}</td></tr>")
    if rows:
        parts += ["**Key numbers** (as recorded by this chapter)", "",
                  '<table class="spikekit-table spikekit-key-numbers">' + "".join(rows) + "</table>", ""]
    figures = _figures(nb)
    if figures:
        links = [f'<a href="#{html.escape("cell-id=" + cid, quote=True)}">Figure {i}'
                 + (f" · {html.escape(title)}" if title else "") + "</a>"
                 for i, (cid, title) in enumerate(figures, start=1)]
        parts += ["**Figures:** " + " · ".join(links), ""]
    params = _parameters(nb)
    if params:
        cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_parameter_text(v), quote=False)}</td></tr>" for k, v in params)
        parts += ["<details open><summary><strong>Parameters used</strong> "
                  f"({len(params)})</summary>" f'<table class="spikekit-table spikekit-parameters">{cells}</table></details>',
                  ""]
    parts += ["---", ""]
    return "\n".join(parts)


def _readable_injected_parameters(cell) -> None:
    """papermill writes strings with \\u escapes; the reader's copy shows the same values with their characters."""
    try:
        tree = ast.parse(str(cell.source))
        lines = ["# Parameters (as injected by the runner)"]
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                return
            lines.append(f"{node.targets[0].id} = {ast.literal_eval(node.value)!r}")
    except (SyntaxError, ValueError):
        return  # not plain literal assignments: leave the cell as it ran
    cell.source = "\n".join(lines)


def _readable_record_outputs(cell) -> None:
    """``sk.record`` shows "recorded name: <JSON>"; the reader gets the value formatted like the key numbers."""
    from ..core.record import RECORD_MIME

    for output in cell.get("outputs", []):
        payload = output.get("data", {}).get(RECORD_MIME)
        if not payload:
            continue
        if isinstance(payload, str):
            payload = json.loads(payload)
        text = key_number_text(payload["value"])
        if text is None:
            frame = from_jsonable(payload["value"])
            text = f"a table of {len(frame):,} rows × {frame.shape[1]:,} columns"
        output["data"]["text/plain"] = f"recorded {payload['name']}: {text}"


def prepare(nb, other_copy: tuple[str, str] | None = None):
    """A copy of the executed notebook as a reader should see it (see the module docstring)."""
    import nbformat

    reader = copy.deepcopy(nb)
    reader.cells = [c for c in reader.cells if TEST_ONLY_TAG not in _tags(c)]
    for cell in reader.cells:
        if cell.get("cell_type") == "code" and "injected-parameters" in _tags(cell):
            _readable_injected_parameters(cell)
        if cell.get("cell_type") == "code":
            _readable_record_outputs(cell)
    opening = nbformat.v4.new_markdown_cell(call_markdown(reader, other_copy))
    opening.metadata["tags"] = ["spikekit-call"]
    reader.cells.insert(0, opening)
    return reader


def _seller_output(output) -> dict | None:
    """An output as the seller's copy shows it, or None when it is for analysts (logs, errors, record echoes)."""
    from ..core.record import RECORD_MIME

    if output.get("output_type") not in {"display_data", "execute_result"}:
        return None  # stdout/stderr logs and tracebacks
    data = output.get("data", {})
    if RECORD_MIME in data:
        return None  # "recorded name: value": the call's key numbers show it
    shown = {k: v for k, v in data.items() if k != "text/plain"}
    if not shown and "text/plain" in data:
        # A bare value's repr would be a <pre> block: the same text as a paragraph, its line breaks kept.
        text = "".join(data["text/plain"]) if isinstance(data["text/plain"], list) else str(data["text/plain"])
        shown = {"text/html": f'<div class="spikekit-text" style="white-space: pre-wrap">{html.escape(text)}</div>'}
    if not shown:
        return None
    import nbformat

    # display_data: no "Out[n]:" prompt in front of a table or figure
    return nbformat.from_dict({"output_type": "display_data", "data": shown, "metadata": output.get("metadata", {})})


def seller_copy(nb, full_copy: str | None = None):
    """The seller's copy of an executed notebook: ``prepare``'s reading (the call first, the story) with no
    code at all; ``full_copy`` is the link to the full copy kept beside it."""
    other = ("The full copy, with the code", full_copy) if full_copy else None
    seller = prepare(nb, other_copy=other)
    cells = []
    for cell in seller.cells:
        if cell.get("cell_type") == "code":
            if _PARAMETER_TAGS & set(_tags(cell)):
                continue  # shown as the parameters table in the call
            cell.outputs = [o for o in map(_seller_output, cell.get("outputs", [])) if o is not None]
            if not cell.outputs:
                continue
            cell.source = ""
            cell.metadata.setdefault("transient", {})["remove_source"] = True  # nbconvert leaves the input out
        elif cell.get("cell_type") == "raw":
            continue
        cells.append(cell)
    seller.cells = cells
    return seller
