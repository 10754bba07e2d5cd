"""Amata schedule (monotone, ends at the final K, compute in the paper's range) and the
adversarial training loop (inner steps follow the schedule; natural training is untouched by ε)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynml.control import attacks
from dynml.sgd.amata import AmataSchedule, adversarial_train, natural_schedule, pgd_schedule


@pytest.mark.parametrize("total", [1, 7, 300, 1201])
@pytest.mark.parametrize("k0,k1,q", [(1, 10, 2.0), (2, 8, 1.0), (1, 20, 0.5)])
def test_schedule_is_monotone_and_ends_at_the_final_k(total, k0, k1, q):
    s = AmataSchedule(k0, k1, q)
    k, a = s.steps(total), s.step_sizes(total)
    assert np.all(np.diff(k) >= 0) and np.all(np.diff(a) <= 1e-12)
    assert k[0] == k0 and k[-1] == (k1 if total > 1 else k0)
    assert np.all(a <= 1.0) and np.all(a > 0)
    np.testing.assert_allclose(a[k >= 3] * k[k >= 3], s.path)  # path length K α = a ε


def test_power_two_ramp_costs_about_a_third_plus_of_pgd():
    """Mean of `K₀ + (K₁ − K₀) u²` over u ∈ [0, 1] is `K₀ + (K₁ − K₀)/3`."""
    total = 10_000
    s, pgd = AmataSchedule(1, 10, 2.0), pgd_schedule(10)
    want = (total * (1 + 9 / 3) + total) / (11 * total)
    ratio = s.gradient_evaluations(total) / pgd.gradient_evaluations(total)
    assert abs(ratio - want) < 5e-3  # rounding K(s) to integers
    assert 1 / 3 <= ratio <= 1 / 2
    assert natural_schedule().gradient_evaluations(total) == total


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError):
        AmataSchedule(0, 5)
    with pytest.raises(ValueError):
        AmataSchedule(1, 5, power=0.0)


def linear_problem(key, n=128, d=6):
    kw, kx = jax.random.split(key)
    w = jax.random.normal(kw, (d, 3))
    x = jax.random.uniform(kx, (n, d))
    y = jnp.argmax((x - 0.5) @ w, axis=1)
    return x, y


def apply(params, x):
    return x @ params["w"] + params["b"]


def init(d=6):
    return {"w": jnp.zeros((d, 3)), "b": jnp.zeros(3)}


def test_natural_training_ignores_eps_and_adversarial_training_reports_its_compute():
    x, y = linear_problem(jax.random.key(0))
    opt = optax.adam(0.05)
    kw = dict(steps=40, key=jax.random.key(1), optimizer=opt, batch_size=32)
    a = adversarial_train(init(), apply, (x, y), natural_schedule(), eps=0.0, **kw)
    b = adversarial_train(init(), apply, (x, y), natural_schedule(), eps=0.3, **kw)
    np.testing.assert_allclose(a.model["w"], b.model["w"], rtol=1e-6)
    assert a.history["gradient_evaluations"] == 40
    s = AmataSchedule(1, 4, 1.0)
    c = adversarial_train(init(), apply, (x, y), s, eps=0.1, **kw)
    assert c.history["inner_steps"] == s.steps(40).tolist()
    assert c.history["gradient_evaluations"] == int(np.sum(s.steps(40) + 1))


@pytest.mark.slow
def test_adversarial_training_raises_robust_accuracy_of_a_linear_model():
    x, y = linear_problem(jax.random.key(2), n=256)
    kw = dict(steps=300, key=jax.random.key(3), optimizer=optax.adam(0.05), batch_size=64)
    eps = 0.08
    nat = adversarial_train(init(), apply, (x, y), natural_schedule(), eps=eps, **kw).model
    adv = adversarial_train(init(), apply, (x, y), pgd_schedule(5), eps=eps, **kw).model

    def robust(p):
        res = attacks.pgd(lambda z: apply(p, z), x, y, eps, eps / 4, 10, jax.random.key(4))
        return 1.0 - float(jnp.mean(res.success))

    assert robust(adv) > robust(nat) + 0.02


@pytest.mark.slow
def test_quick_amata_runs(tmp_path):
    from dynml.core import experiment as ex

    spec = ex.get("amata")
    run = ex.execute(spec, spec.config(quick=True), tmp_path, quick=True)
    assert run.status == "done" and 0 < run.metrics["amata_over_pgd_compute"] < 1
