"""The control experiments' data handling, and each `--quick` config end to end (slow)."""

import pytest

from dynml.core import experiment as ex
from dynml.experiments.msa_digits import classification_data


def test_missing_mnist_file_is_refused():
    with pytest.raises(ValueError, match="mnist_path"):
        classification_data("/nonexistent/mnist.npz")


def test_digits_split_is_disjoint_and_complete():
    (xtr, ytr), (xte, yte) = classification_data()
    assert xtr.shape[1:] == (1, 8, 8) and len(ytr) + len(yte) == 1797
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["msa-toy", "msa-digits", "discrete-msa", "mean-field-lq"])
def test_quick_config_runs(name, tmp_path):
    spec = ex.get(name)
    run = ex.execute(spec, spec.config(quick=True), tmp_path, quick=True)
    assert run.status == "done" and run.metrics
