"""Narrative helpers for notebooks: a decision stated as Markdown, with its evidence, in the record."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable


# Output metadata that marks a decision box, so the record's HTML can lead with it (lib/spikekit/views/recordview.py).
DECISION_META = "spikekit_decision_box"


def _display_markdown(text: str, metadata: dict | None = None) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text), metadata=metadata)
            return
    except ImportError:
        pass
    print(text)


def say(text: str) -> str:
    """Show a short Markdown note in the notebook (plain text elsewhere)."""
    _display_markdown(text)
    return text


def decision_box(title: str, verdict: str, reasons: Iterable[str]) -> str:
    """The call and the evidence behind it, as one Markdown block a reviewer can read weeks later."""
    lines = [f"### {title}: **{verdict}**", ""]
    lines += [f"- {r}" for r in reasons]
    text = "\n".join(lines)
    _display_markdown(text, {DECISION_META: True})
    return text


@contextmanager
def filling(widget):
    """Show what the block displays and prints in an ipywidgets ``Output`` widget, captured in the kernel and set
    as the widget's ``outputs`` when the block ends (also when it raises).

    Not ``with widget:``: that capture is done by the front end, and a server-side runner (Voila's executor)
    mimics it by syncing the widget's whole state back to the busy kernel after every output; a page served
    that way could stall. Setting ``outputs`` is one state update the page reads with the widget."""
    from IPython.utils.capture import capture_output

    with capture_output(stdout=True, stderr=False, display=True) as captured:
        try:
            yield
        finally:
            outputs = []
            if captured.stdout:
                outputs.append({"output_type": "stream", "name": "stdout", "text": captured.stdout})
            outputs += [{"output_type": "display_data", "data": dict(shown.data), "metadata": dict(shown.metadata or {})}
                        for shown in captured.outputs]
            widget.outputs = tuple(outputs)
