"""Discrete-weight MSA: closed-form Hamiltonian maximisation and training behaviour."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynml.control import discrete, msa_fit, pmp

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(m=finite, w=st.sampled_from([-1.0, 0.0, 1.0]), rho=st.floats(0, 5), lam=st.floats(0, 1))
def test_ternary_closed_form_is_the_brute_force_argmax(m, w, rho, lam):
    objective = lambda th: m * th - rho * (th - w) ** 2 - lam * abs(th)  # noqa: E731
    best = max(objective(th) for th in (-1.0, 0.0, 1.0))
    chosen = float(discrete.ternary_update(jnp.float32(m), jnp.float32(w), rho, lam))
    assert chosen in (-1.0, 0.0, 1.0)
    assert objective(chosen) >= best - 1e-4 * (1 + abs(best))


def test_binary_update_is_the_argmax_of_the_damped_hamiltonian():
    """`sign(M)` where `|M| > ρ_k`, else keep: maximises `Mθ − (ρ_k/2)(θ − W)²` over ±1."""
    key = jax.random.key(0)
    m = jax.random.normal(key, (50,))
    w = jnp.where(jax.random.normal(jax.random.fold_in(key, 1), (50,)) > 0, 1.0, -1.0)
    rho_k = discrete.damping(m, w, 0.5)
    new = discrete.binary_update(m, w, rho_k)
    for mi, wi, ni in zip(np.asarray(m), np.asarray(w), np.asarray(new), strict=True):
        vals = {th: mi * th - 0.5 * rho_k * (th - wi) ** 2 for th in (-1.0, 1.0)}
        assert vals[ni] >= max(vals.values()) - 1e-6


def test_damping_uses_only_disagreeing_entries():
    m = jnp.array([3.0, -1.0, 0.5])
    w = jnp.array([1.0, 1.0, -1.0])
    assert discrete.damping(m, w, 0.5) == pytest.approx(0.5 * 1.0)


def _data():
    x = jax.random.normal(jax.random.key(3), (64, 6))
    y = (x[:, 0] + x[:, 1] > 0).astype(jnp.int32)
    return x, y


def _ce(logits, y):
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]


@pytest.mark.parametrize("kind", ["binary", "ternary"])
def test_discrete_msa_keeps_weights_discrete_and_learns(kind):
    x, y = _data()
    net = discrete.discrete_mlp((6, 16, 2), key=jax.random.key(0), weights=kind)
    method = discrete.DiscreteMSA(
        kind=kind, rho=0.5 if kind == "binary" else 0.25, alpha0=0.9, steps_per_epoch=2, bn_lr=0.01
    )
    res = msa_fit(net, _ce, (x, y), method, steps=40, key=jax.random.key(1), batch_size=32)
    values = {-1.0, 1.0} if kind == "binary" else {-1.0, 0.0, 1.0}
    for layer in res.model:
        if isinstance(layer, discrete.DiscreteLinear):
            assert set(np.unique(np.asarray(layer.weight)).tolist()) <= values
    before = jnp.mean(_ce(pmp.forward(net, x)[-1], y))
    after = jnp.mean(_ce(discrete.predict(res.model, x, x), y))
    assert after < before


def test_straight_through_quantises_forward_and_passes_gradient():
    w = jnp.array([[0.3, -0.7], [1.5, -0.2]])
    layer = discrete.DiscreteLinear(w, "ternary")
    assert jnp.array_equal(layer.effective_weight(), jnp.array([[0.0, -1.0], [1.0, 0.0]]))
    g = jax.grad(lambda lw: jnp.sum(discrete.DiscreteLinear(lw, "binary")(jnp.ones((1, 2)))))(w)
    assert jnp.array_equal(g, jnp.array([[1.0, 1.0], [0.0, 1.0]]))  # |w| > 1 is cut


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="weights"):
        discrete.discrete_mlp((2, 2), key=jax.random.key(0), weights="quaternary")
    with pytest.raises(ValueError, match="kind"):
        discrete.DiscreteMSA(kind="octal").init(())
    with pytest.raises(ValueError, match="density"):
        discrete.discrete_mlp((2, 2), key=jax.random.key(0), density=0.0)


def test_ternary_brute_force_on_a_grid():
    """Exhaustive small grid as a second check of the closed form (ties excluded)."""
    for m, w, rho in itertools.product(np.linspace(-3, 3, 25), (-1.0, 0.0, 1.0), (0.1, 0.5, 1)):
        vals = {th: m * th - rho * (th - w) ** 2 - 1e-7 * abs(th) for th in (-1.0, 0.0, 1.0)}
        top = sorted(vals.values())
        if top[-1] - top[-2] < 1e-6:
            continue
        assert float(discrete.ternary_update(m, w, rho, 1e-7)) == max(vals, key=vals.get)


def test_matched_alpha0_keeps_the_papers_ema_span_in_epochs():
    """`1/((1 − α₀) n)` epochs is the same for the paper (0.999, 550 steps) and for any `n`."""
    for n in (14, 100, 550, 600):
        alpha = discrete.matched_alpha0(n)
        assert 1 / ((1 - alpha) * n) == pytest.approx(1 / (0.001 * 550))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        discrete.matched_alpha0(0)


def test_ternary_penalty_prunes_and_damping_keeps_weights():
    """`λ` above `|M|` zeroes every weight; with `λ = 0` and `ρ_k` above `|M|` nothing moves."""
    m = jnp.array([0.3, -0.2, 0.05, -0.4])
    w = jnp.array([1.0, -1.0, 0.0, 1.0])
    assert jnp.all(discrete.ternary_update(m, w, 0.0, 0.5) == 0)
    assert jnp.array_equal(discrete.ternary_update(m, w, 0.5, 0.0), w)
