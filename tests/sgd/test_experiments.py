"""The sgd experiments: bad input is refused, and each `--quick` config runs end to end."""

import dataclasses

import pytest

from dynml.core import experiment as ex
from dynml.experiments import bn_ols, csgd_robustness, sme_weak_order  # noqa: F401 (register)


def test_missing_mnist_file_is_refused(tmp_path):
    spec = ex.get("csgd-robustness")
    cfg = dataclasses.replace(spec.config(quick=True), mnist_path="/nonexistent/mnist.npz")
    with pytest.raises(ValueError, match="MNIST file"):
        ex.execute(spec, cfg, tmp_path, quick=True)


def test_bn_ols_quick_runs(tmp_path):
    spec = ex.get("bn-ols")
    run = ex.execute(spec, spec.config(quick=True), tmp_path, quick=True)
    assert run.status == "done"
    assert run.metrics["bngd_converges_above_gd_limit"] is True
    assert run.metrics["gd_largest_convergent_lr_x_lambda_max"] < 2.0
    assert abs(run.metrics["gd_stability_limit_x_lambda_max"] - 2.0) <= 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sme-weak-order", "csgd-robustness"])
def test_quick_config_runs(name, tmp_path):
    spec = ex.get(name)
    run = ex.execute(spec, spec.config(quick=True), tmp_path, quick=True)
    assert run.status == "done" and run.metrics
