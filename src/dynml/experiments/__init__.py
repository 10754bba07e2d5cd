"""Reproduced results: one module per figure or table, each registering itself.

Modules are discovered automatically; adding a file here adds an experiment.
"""

import importlib
import pkgutil

from ..core.experiment import REGISTRY, ExperimentSpec, get


def load_all() -> dict[str, ExperimentSpec]:
    """Import every experiment module (registering it) and return the registry."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return REGISTRY


__all__ = ["REGISTRY", "get", "load_all"]
