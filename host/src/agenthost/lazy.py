"""Package fronts whose public names are imported from their modules on first use (PEP 562),
so importing the package costs almost nothing: ``agenthost`` and ``agenthost.testing`` are
built this way."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_front(
    package: str, namespace: dict[str, Any], homes: Mapping[str, tuple[str, ...]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for the package ``package`` whose globals
    are ``namespace``: each name of ``homes`` (module -> names) is imported from its module on
    first use and kept in ``namespace``; any other name is an ``AttributeError``."""
    home_of = {name: module for module, names in homes.items() for name in names}
    public = sorted(home_of)

    def __getattr__(name: str) -> Any:
        module = home_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return public, __getattr__, __dir__
