"""Narrative helpers for notebooks: a decision stated as Markdown, with its evidence, in the record."""
from __future__ import annotations

from typing import Iterable


def _display_markdown(text: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
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
    _display_markdown(text)
    return text
