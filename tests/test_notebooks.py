"""House rules for the chapter notebooks (the sources in notebooks/, not executed records)."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from spikekit.inputs.settings import COMMON_PARAMETERS, load_playbook, notebook_parameters

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.ipynb"))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def nbval_lax_checks_output(cell: dict) -> bool:
    """Whether `pytest --nbval-lax` compares this cell's output, decided by nbval's own marker readers:
    in lax mode only cells marked ``# NBVAL_CHECK_OUTPUT`` (or tagged ``nbval-check-output``) are compared,
    and a marker in the source wins over a tag, as in nbval's collector."""
    from nbval.plugin import find_comment_markers, find_metadata_tags

    if cell["cell_type"] != "code":
        return False
    options = dict(find_metadata_tags(cell.get("metadata", {})))
    options.update(find_comment_markers("".join(cell["source"])))
    return bool(options.get("check", False)) and not options.get("skip", False)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_outputs_are_stripped_except_cells_kept_for_nbval(path):
    """nbval compares a checked cell only if the stored cell was run and has output: a checked cell stored
    without output passes whatever it prints. Every other cell is stored stripped (records hold outputs)."""
    checked = {i for i, c in enumerate(cells(path)) if nbval_lax_checks_output(c)}
    unchecked_with_output = [i for i, c in enumerate(cells(path)) if c["cell_type"] == "code" and i not in checked
                             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert unchecked_with_output == [], (
        f"{path.name}: cells {unchecked_with_output} carry outputs or an execution count but nbval does not "
        "check them; strip them")
    for i in sorted(checked):
        cell = cells(path)[i]
        assert cell.get("execution_count") is not None and cell.get("outputs"), (
            f"{path.name}: cell {i} is checked by nbval but has no stored output, so nbval skips the comparison; "
            "store the output of a run with the sample defaults")
        # Text only: a figure or HTML table would tie the check to fonts and library versions.
        for output in cell["outputs"]:
            assert output["output_type"] == "stream" or set(output.get("data", {})) <= {"text/plain"}, (path.name, i)


def test_every_chapter_notebook_checks_its_call_under_nbval():
    """Each chapter notebook keeps at least one checked cell (its decision with the sample defaults)."""
    chapters = [p for p in SOURCES if p.name != "template.ipynb"]
    assert len(chapters) == 12
    unchecked = [p.name for p in chapters if not any(nbval_lax_checks_output(c) for c in cells(p))]
    assert unchecked == []


def test_nbval_lax_marker_reading_matches_nbval():
    """The reader above follows nbval: marker comment or tag checks; IGNORE and SKIP do not; plain cells do not."""
    def code(source, tags=None):
        return {"cell_type": "code", "source": source, "metadata": {"tags": tags} if tags else {}}

    assert nbval_lax_checks_output(code("# NBVAL_CHECK_OUTPUT\nprint(1)"))
    assert nbval_lax_checks_output(code("print(1)", ["nbval-check-output"]))
    assert not nbval_lax_checks_output(code("print(1)"))
    assert not nbval_lax_checks_output(code("# NBVAL_IGNORE_OUTPUT\nprint(1)", ["nbval-check-output"]))
    assert not nbval_lax_checks_output(code("# NBVAL_CHECK_OUTPUT\n# NBVAL_SKIP\nprint(1)"))
    assert not nbval_lax_checks_output({"cell_type": "markdown", "source": "# NBVAL_CHECK_OUTPUT", "metadata": {}})


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_assignment_in_the_parameters_cell_is_a_parameter_papermill_sees(path):
    """papermill silently skips a line it cannot parse (e.g. some comments); that would hide a parameter."""
    tagged = [c for c in cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell must be tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    assigned = [t.id for node in ast.parse(source).body if isinstance(node, ast.Assign) for t in node.targets]
    import papermill

    seen = papermill.inspect_notebook(str(path))
    assert assigned == list(seen)
    assert list(notebook_parameters(path)) == assigned
    assert set(COMMON_PARAMETERS) <= set(seen)


def test_playbook_defaults_are_parameters_of_their_notebooks_and_titles_match():
    from spikekit.inputs.settings import load_spike

    book = load_playbook()
    sample = load_spike("starry-mug", book)  # what a notebook run standalone stands for
    # Set per spike (playbook.yaml names no product): the product, its keywords and search series.
    PER_SPIKE = {"keyword_groups", "search_keyword", "search_platform", "product", "product_facts"}
    for chapter in book.chapters.values():
        declared = notebook_parameters(chapter.notebook)
        assert set(chapter.defaults) <= set(declared), chapter.id
        for key in chapter.inputs:
            assert f"{key}_file" in declared, (chapter.id, key)
        title_cell = "".join(cells(chapter.notebook)[0]["source"])
        chinese_title = chapter.title.split(" · ")[0]
        assert title_cell.startswith(f"# {chapter.id} {chinese_title}"), chapter.id
        # Defaults in the notebook equal the playbook's, so a standalone run decides like a playbook run.
        for name, value in chapter.defaults.items():
            default = declared[name]["default"]
            if name in PER_SPIKE:  # the notebook's default is the sample spike's value, as a standalone run is it
                assert default == sample.parameters.get(chapter.id, {}).get(name, value), (chapter.id, name)
                continue
            assert default == value or (isinstance(value, dict) and {k: list(v) if isinstance(v, list) else v for k, v in value.items()} == default), (chapter.id, name)
