"""Shared test settings: no progress bars; hypothesis without deadlines (JIT compiles are slow
the first time) and with a modest number of examples."""

import os

from hypothesis import settings

os.environ.setdefault("DYNML_PROGRESS", "0")
settings.register_profile("dynml", deadline=None, max_examples=50)
settings.load_profile("dynml")

# The test-only experiment `toy-line` (tests/support/toy_experiment.py), visible to every
# `dynml` command run by the tests, in this process and in subprocesses.
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

SUPPORT = str(Path(__file__).parent / "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [SUPPORT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
os.environ["DYNML_EXPERIMENTS"] = "toy_experiment"
