"""The extended Hamiltonian term by term, and `msa_fit` as an optimiser for layered models."""

import re
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

from dynml.control import MSA, Residual, extended_hamiltonian, msa_fit, pmp
from dynml.control.losses import sum_mse

DOCS = Path(__file__).resolve().parents[2] / "docs" / "control.md"


def _explicit(layers, xs, ps, rho, reg):
    """`Σ_t [p_{t+1}·f − (ρ/2)(‖x_{t+1} − f‖²/S + S‖p_t − ∇_x H_t‖²)] − (reg/2)‖θ‖²` written out
    for `f(x) = x + h tanh(x Wᵀ + b)`, with `∇_x H_t = p + h (p ⊙ (1 − tanh² z)) W`."""
    s = xs[0].shape[0]
    total = 0.0
    for f, x, xn, p, pn in zip(layers, xs[:-1], xs[1:], ps[:-1], ps[1:], strict=True):
        a = jnp.tanh(x @ f.weight.T + f.bias)
        out = x + f.step * a
        grad_x = pn + f.step * (pn * (1 - a**2)) @ f.weight
        total += jnp.sum(pn * out)
        total -= 0.5 * rho * jnp.sum((xn - out) ** 2) / s
        total -= 0.5 * rho * s * jnp.sum((p - grad_x) ** 2)
        total -= 0.5 * reg * (jnp.sum(f.weight**2) + jnp.sum(f.bias**2))
    return total


def test_extended_hamiltonian_matches_the_formula_term_by_term():
    """At controls away from the passes' own, every term (H, both feasibility errors, reg) is
    non-zero, so dropping any of them breaks the equality."""
    k = jax.random.split(jax.random.key(0), 8)
    layers = tuple(Residual(3, key=kk) for kk in k[:4])
    x = jax.random.normal(k[4], (6, 3))
    y = jnp.sin(x.sum(axis=1))
    _, xs, ps = pmp.states_and_costates(layers, x, y, sum_mse)
    moved = jax.tree_util.tree_map(
        lambda a: a + 0.3 * jax.random.normal(k[5], a.shape), eqx.filter(layers, eqx.is_array)
    )
    moved = eqx.combine(moved, eqx.filter(layers, eqx.is_array, inverse=True))
    for rho, reg in ((0.0, 0.0), (0.7, 0.0), (0.7, 0.2)):
        ours = extended_hamiltonian(moved, xs, ps, rho, reg)
        assert jnp.allclose(ours, _explicit(moved, xs, ps, rho, reg), rtol=1e-5, atol=1e-6)
    # each penalty separately is visible at this size
    h = extended_hamiltonian(moved, xs, ps, 0.0, 0.0)
    assert abs(float(extended_hamiltonian(moved, xs, ps, 0.7, 0.0) - h)) > 1e-3


def test_grouped_layers_equal_one_by_one():
    """Same-shaped layers are evaluated by one vmap: the sum equals the per-layer sum."""
    k = jax.random.split(jax.random.key(1), 5)
    layers = tuple(Residual(4, key=kk) for kk in k[:3])
    x = jax.random.normal(k[3], (5, 4))
    _, xs, ps = pmp.states_and_costates(layers, x, jnp.cos(x[:, 0]), sum_mse)
    together = extended_hamiltonian(layers, xs, ps, 2.0, 0.1)
    apart = sum(
        extended_hamiltonian(layers[t : t + 1], xs[t : t + 2], ps[t : t + 2], 2.0, 0.1)
        for t in range(3)
    )
    assert jnp.allclose(together, apart, rtol=1e-5)


def _regression():
    x = jax.random.normal(jax.random.key(2), (64, 2))
    return x, jnp.sin(x[:, 0]) * x[:, 1]


@pytest.mark.parametrize(("inner", "factor"), [("adam", 0.7), ("lbfgs", 1.0)])
def test_msa_fit_trains_an_equinox_sequential(inner, factor):
    x, y = _regression()
    k1, k2 = jax.random.split(jax.random.key(3))
    net = eqx.nn.Sequential(
        [eqx.nn.Linear(2, 16, key=k1), eqx.nn.Lambda(jnp.tanh), eqx.nn.Linear(16, 1, key=k2)]
    )
    loss = lambda out, y: (out[:, 0] - y) ** 2  # noqa: E731
    method = MSA(rho=1.0, inner=inner, inner_lr=0.02, inner_steps=3)
    res = msa_fit(net, loss, (x, y), method, steps=60, key=jax.random.key(4))
    assert isinstance(res.model, eqx.nn.Sequential)
    before = jnp.mean(loss(jax.vmap(net)(x), y))
    after = jnp.mean(loss(jax.vmap(res.model)(x), y))
    if inner == "adam":
        assert after < factor * before
    else:  # cold L-BFGS with 3 steps from each iterate: the recorded losses fall
        assert min(res.history["loss"][1:]) < factor * res.history["loss"][0]


def test_msa_fit_refuses_models_it_cannot_split():
    x, y = _regression()
    mlp = eqx.nn.MLP(2, 1, 8, 2, key=jax.random.key(0))  # tanh/relu applied between layers
    with pytest.raises(ValueError, match="cannot split"):
        msa_fit(mlp, lambda o, y: (o[:, 0] - y) ** 2, (x, y), steps=2, key=jax.random.key(0))
    with pytest.raises(TypeError, match="built from layers"):
        msa_fit(lambda v: v, lambda o, y: o, (x, y), steps=2, key=jax.random.key(0))


def test_docs_example_runs():
    text = DOCS.read_text()
    block = re.search(r"<!-- msa_fit example -->\s*```python\n(.*?)```", text, re.S)
    assert block, "docs/control.md lost its msa_fit example"
    scope: dict = {}
    exec(compile(block.group(1), str(DOCS), "exec"), scope)  # noqa: S102
    assert scope["after"] < scope["before"]
