"""`onsager-rbc --quick` end to end (slow: about a minute and a half of CPU time)."""

import json

import pytest

from dynml.core import experiment as exp
from dynml.experiments import load_all


@pytest.mark.slow
def test_onsager_rbc_quick_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("DYNML_PROGRESS", "0")
    load_all()
    spec = exp.get("onsager-rbc")
    run = exp.execute(spec, spec.config(quick=True), tmp_path, quick=True)
    metrics = json.loads((run.folder / "metrics.json").read_text())
    assert metrics["status"] == "done"
    assert {"errors", "pca_variance", "fixed_points"} <= set(metrics["tables"])
    assert (run.folder / "rbc_data.h5").is_file()
    figures = {p.stem for p in (run.folder / "figures").glob("*.png")}
    assert {"temperature_snapshots", "pca_variance", "phase_portraits", "fixed_points"} <= figures
