"""Shared test settings: no progress bars; hypothesis without deadlines (JIT compiles are slow
the first time) and with a modest number of examples."""

import os

from hypothesis import settings

os.environ.setdefault("DYNML_PROGRESS", "0")
settings.register_profile("dynml", deadline=None, max_examples=50)
settings.load_profile("dynml")
