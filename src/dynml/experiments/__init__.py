"""Reproduced results: one module per figure or table, each registering itself.

Modules are discovered automatically; adding a file here adds an experiment. Experiments of
your own register the same way: name their importable modules in the environment variable
`DYNML_EXPERIMENTS` (comma-separated) and every `dynml` command sees them.
"""

import importlib
import os
import pkgutil

from ..core.experiment import REGISTRY, ExperimentSpec, get


def load_all() -> dict[str, ExperimentSpec]:
    """Import every experiment module (registering it) and return the registry."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    for name in filter(None, os.environ.get("DYNML_EXPERIMENTS", "").split(",")):
        try:
            importlib.import_module(name.strip())
        except ImportError as err:
            raise ValueError(
                f"DYNML_EXPERIMENTS names {name!r}, which cannot be imported: {err}"
            ) from None
    return REGISTRY


__all__ = ["REGISTRY", "get", "load_all"]
