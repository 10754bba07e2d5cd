"""The OnsagerNet experiments run end to end in their quick configs (slow: ~1-2 min each)."""

import json

import pytest

from dynml.core import experiment as exp
from dynml.experiments import load_all


@pytest.mark.slow
@pytest.mark.parametrize("name", ["onsager-lorenz", "onsager-langevin", "onsager-sde"])
def test_quick_config_runs_end_to_end(name, tmp_path, monkeypatch):
    monkeypatch.setenv("DYNML_PROGRESS", "0")
    load_all()
    spec = exp.get(name)
    run = exp.execute(spec, spec.config(quick=True), tmp_path, quick=True)
    metrics = json.loads((run.folder / "metrics.json").read_text())
    assert metrics["status"] == "done"
    assert metrics["tables"]
    assert list((run.folder / "figures").glob("*.png"))
