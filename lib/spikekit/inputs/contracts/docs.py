"""The tables' documentation: each contract described as text, data/README.md's table sections regenerated
(`python -m spikekit.inputs.contracts --update-readme`).
"""
from __future__ import annotations

from pathlib import Path

from ...core import paths
from ...core.errors import ConfigError

from .columns import CONTRACTS, Column, Contract, _number_text


# ----------------------------------------------------------------------------------------------------------
# Documentation

_TYPE_NAMES = {"str": "text", "float": "number", "int": "whole number", "timestamp": "date-time"}


def _rule_text(col: Column) -> str:
    rules = []
    if col.dtype == "str":
        if col.required_when:
            other, value = col.required_when
            rules.append(f"non-empty when {other} = `{value}`, empty otherwise")
        elif col.required:
            rules.append("non-empty")
        if col.allowed:
            rules.append("one of " + ", ".join(f"`{a}`" for a in col.allowed))
    if col.minimum is not None:
        rules.append(f"{'>' if col.exclusive_minimum else '>='} {_number_text(col.minimum)}")
    if col.maximum is not None:
        rules.append(f"<= {_number_text(col.maximum)}")
    if col.dtype == "timestamp":
        rules.append("local time of the spike, or with a UTC offset (not both in one file)")
    return "; ".join(rules) or "-"


def describe_contract(contract: Contract) -> str:
    """Markdown: the table's purpose, one row per column (type, required, rule, description) and its key."""
    lines = [
        contract.description,
        "",
        "| column | type | required | rule | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for col in contract.columns:
        required = "yes" if col.required else ("when " + "=".join(col.required_when) if col.required_when else "no")
        lines.append(
            f"| `{col.name}` | {_TYPE_NAMES[col.dtype]} | {required} | {_rule_text(col)} | {col.description} |"
        )
    lines.append("")
    lines.append("Key (each combination at most once): " + ", ".join(f"`{k}`" for k in contract.key) + ".")
    return "\n".join(lines) + "\n"


_README_KEY_LINE = "Key (each combination at most once): "


def refresh_readme(text: str) -> str:
    """``text`` (data/README.md) with each ``### Table `<name>``` section's generated part (description, column
    table, key line) replaced by ``describe_contract``; the hand-written example after it is kept."""
    from ..state import LEDGER_CONTRACTS  # the ledger's tables are documented in the same README

    for contract in [*CONTRACTS.values(), *LEDGER_CONTRACTS.values()]:
        heading = f"### Table `{contract.name}`\n\n"
        start = text.find(heading)
        if start < 0:
            raise ConfigError(f"the data README has no section '### Table `{contract.name}`'. "
                              "Fix: add the heading (with an example) and run this again")
        begin = start + len(heading)
        key_at = text.index(_README_KEY_LINE, begin)
        end = text.index("\n", key_at) + 1
        text = text[:begin] + describe_contract(contract) + text[end:]
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m spikekit.inputs.contracts --update-readme [PATH]``: regenerate the table sections of data/README.md."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m spikekit.inputs.contracts", description=main.__doc__)
    parser.add_argument("--update-readme", nargs="?", const=str(paths.PROJECT_ROOT / "data" / "README.md"),
                        metavar="PATH", required=True, help="the README to rewrite (default: data/README.md)")
    args = parser.parse_args(argv)
    readme = Path(args.update_readme)
    old = readme.read_text(encoding="utf-8")
    new = refresh_readme(old)
    if new != old:
        readme.write_text(new, encoding="utf-8")
    print(f"{readme}: {'updated' if new != old else 'already up to date'}")
    return 0
