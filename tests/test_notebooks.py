"""House rules for the chapter notebooks (the sources in notebooks/, not executed records)."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from spikekit.settings import COMMON_PARAMETERS, load_playbook, notebook_parameters

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.ipynb"))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_outputs_are_stripped_except_cells_kept_for_nbval(path):
    heavy = [i for i, c in enumerate(cells(path)) if c["cell_type"] == "code" and c.get("outputs")
             and not c.get("metadata", {}).get("keep_output")]
    assert heavy == [], f"{path.name}: code cells {heavy} carry outputs; strip them (records hold outputs)"
    counts = [c.get("execution_count") for c in cells(path) if c["cell_type"] == "code"
              and not c.get("metadata", {}).get("keep_output")]
    assert set(counts) <= {None}


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
    book = load_playbook()
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
            if isinstance(value, dict) and name == "keyword_groups":
                continue  # set per spike
            assert default == value or (isinstance(value, dict) and {k: list(v) if isinstance(v, list) else v for k, v in value.items()} == default), (chapter.id, name)
