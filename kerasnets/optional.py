"""Optional packages: checked before the work that needs them starts, with the install line.

A feature whose package is missing says so in one line naming the package,
instead of a ModuleNotFoundError minutes into a run.
"""

from __future__ import annotations

import importlib.util

__all__ = ["MissingPackageError", "installed", "require"]


class MissingPackageError(ImportError):
    """A package a feature needs is not installed; the message says what to install."""


def installed(module: str) -> bool:
    """True when `module` (a top-level import name) can be imported."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, *, package: str, purpose: str) -> None:
    """Raises :class:`MissingPackageError` unless `module` is importable.

    `package` is what pip installs (``ai-edge-litert`` for ``ai_edge_litert``),
    `purpose` what needs it ("verifying a TFLite file").
    """
    if not installed(module):
        raise MissingPackageError(
            f"{purpose} needs the {package} package, which is not installed: "
            f"pip install {package}", name=module)
