"""Each control experiment's `--quick` config end to end (slow), and its claims are declared."""

import importlib

import pytest

from dynml.core import experiment as ex

NAMES = ["msa-toy", "msa-digits", "discrete-msa", "mean-field-lq"]
for _name in NAMES:  # registers each experiment
    importlib.import_module(f"dynml.experiments.{_name.replace('-', '_')}")


@pytest.mark.parametrize("name", NAMES)
def test_experiment_declares_claims(name):
    assert ex.get(name).claims


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_quick_config_runs(name, tmp_path):
    spec = ex.get(name)
    run = ex.execute(spec, spec.config(quick=True), tmp_path, quick=True)
    assert run.status == "done" and run.metrics
