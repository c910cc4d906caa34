"""The rooms' lazy attribute access: ``spikekit.<room>.<module>`` without importing every module of the room
(the CLI starts fast because nothing heavy loads until a command needs it)."""
from __future__ import annotations

import importlib
from typing import Callable, Iterable


def lazy_submodules(package: str, names: Iterable[str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports the submodule ``names`` on first access."""
    known = frozenset(names)

    def __getattr__(name: str):
        if name in known:
            module = importlib.import_module(f"{package}.{name}")
            setattr(importlib.import_module(package), name, module)
            return module
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
