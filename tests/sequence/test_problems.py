"""The adding problem's baseline, a tiny plateau run, and the experiments' quick configs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynml.core.experiment import execute
from dynml.experiments import get, load_all
from dynml.sequence import LinearRNN, fit_kernels, longest_plateau, stack
from dynml.systems import memory as M


def test_adding_problem_baseline_is_one_sixth():
    n = 200_000
    x, y = M.adding_problem(jax.random.PRNGKey(0), n, 20)
    assert x.shape == (n, 20, 2) and y.shape == (n, 1)
    markers = np.asarray(x[..., 1])
    assert np.all(markers.sum(1) == 2)
    assert np.all(markers[:, :10].sum(1) == 1)  # one marker in each half
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * x[..., 1]).sum(1), rtol=1e-6)
    mse = float(jnp.mean((y - 1.0) ** 2))
    # Var((a+b-1)^2) = E(a+b-1)^4 - (1/6)^2 = 1/15 - 1/36; 5 standard errors
    assert abs(mse - 1 / 6) < 5 * np.sqrt((1 / 15 - 1 / 36) / n)


def test_tiny_plateau_run_detects_a_plateau():
    """GD on e^{-t} + bump(t - 3) from memory e^{-t}: the loss stalls, then drops."""
    dt, delay = 0.1, 3.0
    n = int((delay + 3.0) / dt)
    rho = M.sample_kernel(M.kernel_sum(M.exp_sum([1.0]), M.delayed(M.bump(0.5), delay)), n, dt)
    model = LinearRNN(
        4, dt=dt, key=jax.random.PRNGKey(0), rates=jnp.ones(4), noise=0.0, readout_scale=0.1
    )
    result = fit_kernels(
        stack([model]),
        rho[None],
        dt,
        steps=1500,
        key=jax.random.PRNGKey(1),
        optimizer=optax.sgd(0.1),
        log_every=1500,
    )
    loss = np.asarray(result.history["aux"])[:, 0]
    start, end = longest_plateau(loss)
    assert end - start >= 75  # at least 5% of the run
    assert loss[-1] < loss[start] / 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["memory-plateau", "memory-approximation", "memory-cnn", "adding-problem"]
)
def test_quick_configs_run_end_to_end(name, tmp_path):
    load_all()
    spec = get(name)
    run = execute(spec, spec.config(quick=True), tmp_path, quick=True)
    assert run.metrics and (run.folder / "report.md").is_file()


def test_adding_problem_long_claims_need_a_long_run():
    """A T = 50 run must not score the T >= 400 claims; a (100, 400) run scores both."""
    from dynml.sequence.lengths import length_tags

    assert length_tags((50,), 50, 400) == ["short"]
    assert length_tags((100, 400), 100, 400) == ["short"]
    assert length_tags((100, 400), 400, 400) == ["long"]
    assert length_tags((100, 600), 600, 400) == ["long"]
    assert length_tags((400,), 400, 400) == ["long"]
