"""The fused E-MSA iteration: one backward pass through the forward pass's VJPs gives the
costates and `∂H/∂θ`, the first inner step starts from the exact `(H̃, ∇H̃)` at the passes' own
controls, and the update maximises the extended Hamiltonian written out by hand.

Linear layers `f_t(x) = W_t x + b_t` make `H̃` a concave quadratic in `θ = (W, b)`, so its
maximiser is one Newton step (exact), and for `ρ = 0` it is basic MSA's closed form
`W_t = (1/reg) Σ_s p_{s,t+1} x_{s,t}ᵀ`, `b_t = (1/reg) Σ_s p_{s,t+1}` (Li, Chen, Tai, E 2018).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from dynml.control import (
    MSA,
    AvgPool,
    ChannelMean,
    Conv,
    ConvResidual,
    Dense,
    Residual,
    extended_hamiltonian,
    pmp,
)
from dynml.control.losses import cross_entropy, sum_mse
from dynml.control.msa import _start


def _conv_net(key):
    k = jax.random.split(key, 3)
    return (Conv(1, 3, key=k[0]), AvgPool(), ConvResidual(3, key=k[1]), ChannelMean(),
            Dense(3, 4, key=k[2]))  # fmt: skip


def _residual_problem():
    x = jax.random.normal(jax.random.key(1), (7, 4))
    layers = tuple(Residual(4, key=k) for k in jax.random.split(jax.random.key(0), 3))
    return layers, x, jnp.sin(x[:, 0]), sum_mse


def test_fused_pass_control_gradient_is_minus_dJ_dtheta():
    """The VJPs kept from the forward pass give `∂H/∂θ = −∂(mean Φ)/∂θ` for every layer
    (parameter-free ones included) and the same states as `forward`. (Its costates are checked
    against `−∂J/∂x_t` in `test_pmp_msa`, through `states_and_costates`.)"""
    x = jax.random.normal(jax.random.key(1), (6, 1, 4, 4))
    layers, y = _conv_net(jax.random.key(0)), jnp.arange(6) % 4

    @eqx.filter_jit
    def both(layers):
        fused = pmp.states_costates_gradients(layers, x, y, cross_entropy)
        g_j = jax.grad(lambda ls: pmp.loss(ls, x, y, cross_entropy))(layers)
        return fused, pmp.forward(layers, x), g_j

    (_, xs, _, dh), ref_xs, g_j = both(layers)
    for t, (ours, ref) in enumerate(zip(xs, ref_xs, strict=True)):
        assert jnp.allclose(ours, ref, rtol=1e-6, atol=1e-7), t
    assert jax.tree_util.tree_structure(dh) == jax.tree_util.tree_structure(g_j)
    for a, b in zip(jax.tree_util.tree_leaves(dh), jax.tree_util.tree_leaves(g_j), strict=True):
        assert jnp.allclose(a, -b, atol=1e-6, rtol=1e-4)


def test_first_inner_step_sees_the_exact_extended_hamiltonian():
    """At the passes' own controls both feasibility errors vanish: the pass's `(−H̃, −∇H̃)`
    equal autodiff of `extended_hamiltonian` there, for `ρ > 0` and `reg > 0`."""
    layers, x, y, terminal = _residual_problem()
    method = MSA(rho=0.7, reg=0.2)
    theta, static = eqx.partition(layers, eqx.is_inexact_array)

    @jax.jit
    def both(theta):
        layers = eqx.combine(theta, static)
        _, xs, ps, dh = pmp.states_costates_gradients(layers, x, y, terminal)
        minus_h = lambda th: -extended_hamiltonian(eqx.combine(th, static), xs, ps, 0.7, 0.2)  # noqa: E731
        return _start(method, layers, xs, ps, dh), jax.value_and_grad(minus_h)(theta)

    (value, grad), (ref_value, ref_grad) = both(theta)
    assert jnp.allclose(value, ref_value, rtol=1e-5, atol=1e-7)
    pairs = zip(jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(ref_grad), strict=True)
    for a, b in pairs:
        assert jnp.allclose(a, b, rtol=1e-4, atol=1e-7)


def _linear_problem(reg=1.0):
    k = jax.random.split(jax.random.key(3), 4)
    layers = tuple(Dense(3, 3, key=kk) for kk in k[:3])
    x = jax.random.normal(k[3], (8, 3))
    return layers, x, jnp.sin(x.sum(axis=1))


def _written_out(theta, xs, ps, rho, reg):
    """`Σ_t p_{t+1}·(W x_t + b) − ρ/(2S)‖x_{t+1} − W x_t − b‖² − (ρS/2)‖p_t − Wᵀp_{t+1}‖²
    − (reg/2)(‖W‖² + ‖b‖²)`, rows as samples."""
    s = xs[0].shape[0]
    total = 0.0
    for (w, b), x, xn, p, pn in zip(theta, xs[:-1], xs[1:], ps[:-1], ps[1:], strict=True):
        out = x @ w.T + b
        total += jnp.sum(pn * out) - 0.5 * rho * jnp.sum((xn - out) ** 2) / s
        total += -0.5 * rho * s * jnp.sum((p - pn @ w) ** 2)
        total += -0.5 * reg * (jnp.sum(w**2) + jnp.sum(b**2))
    return total


@eqx.filter_jit
def _passes(layers, x, y):
    """States and costates by the plain recursions (not the fused pass)."""
    xs = pmp.forward(layers, x)
    _, p_T = pmp.terminal_costate(sum_mse, xs[-1], y)
    return xs, pmp.costates(layers, xs, p_T)


@eqx.filter_jit
def _update(method, layers, x, y):
    return method.update(layers, method.init(layers), (x, y), sum_mse)


def _weights(layers):
    return [(f.weight, f.bias) for f in layers]


@eqx.filter_jit
def _newton_maximiser(layers, xs, ps, rho, reg):
    flat, unravel = ravel_pytree(_weights(layers))
    objective = lambda v: _written_out(unravel(v), xs, ps, rho, reg)  # noqa: E731
    step = jnp.linalg.solve(jax.hessian(objective)(flat), jax.grad(objective)(flat))
    return unravel(flat - step)


def _assert_close(layers, weights, atol):
    for f, (w, b) in zip(layers, weights, strict=True):
        np.testing.assert_allclose(f.weight, w, atol=atol)
        np.testing.assert_allclose(f.bias, b, atol=atol)


def test_zero_rho_with_exact_inner_solve_is_basic_msa():
    """`ρ = 0`: `H` is `Σ_t p_{t+1}·(W x_t + b) − (reg/2)‖θ‖²`, Hessian `−reg·I`, so a gradient
    ascent step of size `1/reg` lands on its maximiser (a second step stays): basic MSA's closed
    form."""
    layers, x, y = _linear_problem()
    method = MSA(rho=0.0, reg=1.0, inner="sgd", inner_lr=1.0, inner_steps=2)
    new, _, _ = _update(method, layers, x, y)
    xs, ps = _passes(layers, x, y)
    basic = [(pn.T @ xt, pn.sum(axis=0)) for xt, pn in zip(xs[:-1], ps[1:], strict=True)]
    _assert_close(new, basic, atol=1e-6)


@pytest.mark.slow
def test_lbfgs_update_is_the_exact_maximiser_of_the_extended_hamiltonian():
    """`ρ > 0`: the Newton maximiser of the written-out quadratic `H̃` (exact), which differs
    from basic MSA's step (so dropping the ρ terms fails)."""
    layers, x, y = _linear_problem()
    method = MSA(rho=0.5, reg=1.0, inner="lbfgs", inner_steps=40)
    new, _, _ = _update(method, layers, x, y)
    xs, ps = _passes(layers, x, y)
    newton = _newton_maximiser(layers, xs, ps, 0.5, 1.0)
    _assert_close(new, newton, atol=1e-5)
    basic = [(pn.T @ xt, pn.sum(axis=0)) for xt, pn in zip(xs[:-1], ps[1:], strict=True)]
    assert float(jnp.max(jnp.abs(ravel_pytree(newton)[0] - ravel_pytree(basic)[0]))) > 1e-2


def test_adam_update_equals_adam_steps_on_the_written_out_hamiltonian():
    """Three warm-started inner Adam steps from a fresh state = three `optax.adam` steps on
    `−H̃` written out by hand (the first from the pass's gradient, the others from `H̃`)."""
    layers, x, y = _linear_problem()
    rho, reg, lr = 2.0, 0.1, 0.05
    method = MSA(rho=rho, reg=reg, inner="adam", inner_steps=3, inner_lr=lr)
    new, _, _ = _update(method, layers, x, y)
    xs, ps = _passes(layers, x, y)
    opt = optax.adam(lr)

    @jax.jit
    def reference(theta):
        state = opt.init(theta)
        for _ in range(3):
            grad = jax.grad(lambda th: -_written_out(th, xs, ps, rho, reg))(theta)
            updates, state = opt.update(grad, state, theta)
            theta = optax.apply_updates(theta, updates)
        return theta

    _assert_close(new, reference(_weights(layers)), atol=1e-6)
    without_rho = MSA(rho=0.0, reg=reg, inner="adam", inner_steps=3, inner_lr=lr)
    other, _, _ = _update(without_rho, layers, x, y)
    gaps = [jnp.max(jnp.abs(a.weight - b.weight)) for a, b in zip(other, new, strict=True)]
    assert max(gaps) > 1e-4
