"""Discrete Pontryagin maximum principle for a layered network (Li & Hao, ICML 2018).

Net `x_{t+1} = f_t(x_t, θ_t)`, `t = 0..T-1`, on a batch of `S` samples, loss
`J = (1/S) Σ_s Φ(x_{s,T}, y_s) + (reg/2) Σ_t ‖θ_t‖²`. With the Hamiltonian
`H_t(x, p, θ) = p · f_t(x, θ) − (reg/2)‖θ‖²` (summed over the batch), the PMP reads

- state   `x_{t+1} = ∇_p H_t = f_t(x_t, θ_t)`,
- costate `p_t = ∇_x H_t(x_t, p_{t+1}, θ_t)`, `p_T = −(1/S) ∇Φ(x_T)`,
- maximum `θ*_t = argmax_θ H_t(x*_t, p*_{t+1}, θ)`,

so `p_t = −∂J/∂x_t` and `∂H_t/∂θ_t = −∂J/∂θ_t`. Layers are a tuple of modules acting on batches
(`control.layers`); their trainable leaves (by default every inexact array) are the controls.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

Terminal = Callable[[Array, Array], Array]
"""`Φ(x_T, y) -> (S,)` per-sample terminal loss."""


def forward(layers: tuple, x0: Float[Array, "S ..."]) -> list[Float[Array, "S ..."]]:
    """States `[x_0, x_1, ..., x_T]` with `x_{t+1} = f_t(x_t)`."""
    xs = [x0]
    for layer in layers:
        xs.append(layer(xs[-1]))
    return xs


def terminal_costate(
    terminal: Terminal, x_T: Float[Array, "S ..."], y: Array
) -> tuple[Float[Array, ""], Float[Array, "S ..."]]:
    """`(mean Φ, p_T)` with `p_T = −(1/S) ∇_x Σ_s Φ(x_{s,T}, y_s)`."""
    loss, grad = jax.value_and_grad(lambda x: jnp.mean(terminal(x, y)))(x_T)
    return loss, -grad


def costate_step(
    layer, x: Float[Array, "S ..."], p_next: Float[Array, "S ..."]
) -> Float[Array, "S ..."]:
    """`p_t = ∇_x H_t(x_t, p_{t+1}, θ_t) = (∂f_t/∂x)ᵀ p_{t+1}` (one vector-Jacobian product)."""
    return jax.vjp(layer, x)[1](p_next)[0]


def costates(
    layers: tuple, xs: list[Float[Array, "S ..."]], p_T: Float[Array, "S ..."]
) -> list[Float[Array, "S ..."]]:
    """Costates `[p_0, ..., p_T]` by the backward recursion `p_t = ∇_x H_t`."""
    ps = [p_T]
    for layer, x in zip(reversed(layers), reversed(xs[:-1]), strict=True):
        ps.append(costate_step(layer, x, ps[-1]))
    return ps[::-1]


def sq_norm(tree) -> Float[Array, ""]:
    """`‖θ‖²` over the inexact-array leaves of a pytree."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))
    return sum((jnp.sum(leaf**2) for leaf in leaves), jnp.array(0.0))


def hamiltonian(
    layer, x: Float[Array, "S ..."], p_next: Float[Array, "S ..."], reg: float = 0.0
) -> Float[Array, ""]:
    """`H_t = Σ_s p_{s,t+1} · f_t(x_{s,t}, θ_t) − (reg/2)‖θ_t‖²`."""
    return jnp.sum(p_next * layer(x)) - 0.5 * reg * sq_norm(layer)


def total_hamiltonian(
    layers: tuple,
    xs: list[Float[Array, "S ..."]],
    ps: list[Float[Array, "S ..."]],
    reg: float = 0.0,
) -> Float[Array, ""]:
    """`Σ_t H_t(x_t, p_{t+1}, θ_t)`: separable in the layers' controls."""
    terms = [hamiltonian(f, x, p, reg) for f, x, p in zip(layers, xs[:-1], ps[1:], strict=True)]
    return sum(terms, jnp.array(0.0))


def loss(
    layers: tuple, x0: Float[Array, "S ..."], y: Array, terminal: Terminal, reg: float = 0.0
) -> Float[Array, ""]:
    """`J = (1/S) Σ_s Φ(x_{s,T}, y_s) + (reg/2) Σ_t ‖θ_t‖²`."""
    x_T = forward(layers, x0)[-1]
    return jnp.mean(terminal(x_T, y)) + 0.5 * reg * sq_norm(layers)


def states_costates_gradients(
    layers: tuple, x0: Array, y: Array, terminal: Terminal, filter_spec=eqx.is_inexact_array
):
    """One forward pass that keeps each layer's VJP, and one backward pass through those VJPs:
    `(mean Φ, xs, ps, ∂H/∂θ)`.

    Layer `t`'s VJP at `(θ_t, x_t)` applied to `p_{t+1}` gives both
    `p_t = (∂f_t/∂x)ᵀ p_{t+1} = ∇_x H_t` and `∂H_t/∂θ_t = (∂f_t/∂θ)ᵀ p_{t+1}` (without the
    `reg` term), so the costates and the Hamiltonian's control gradient (`= −∂J/∂θ`) cost
    one backpropagation, and the forward pass is not recomputed. `∂H/∂θ` has the structure
    of `eqx.filter(layers, filter_spec)` (`filter_spec` a callable or a pytree prefix of
    `layers`, as in `equinox.partition`).
    """
    theta, static = eqx.partition(layers, filter_spec)
    xs, pulls = [x0], []
    for th, st in zip(theta, static, strict=True):
        out, pull = jax.vjp(lambda a, x, st=st: eqx.combine(a, st)(x), th, xs[-1])
        xs.append(out)
        pulls.append(pull)
    value, p = terminal_costate(terminal, xs[-1], y)
    ps, grads = [p], []
    for pull in reversed(pulls):
        g, p = pull(p)
        ps.append(p)
        grads.append(g)
    return value, xs, ps[::-1], type(theta)(grads[::-1])


def states_and_costates(layers: tuple, x0: Array, y: Array, terminal: Terminal):
    """One forward and one backward pass: `(mean Φ, xs, ps)`."""
    value, xs, ps, _ = states_costates_gradients(layers, x0, y, terminal)
    return value, xs, ps
