"""Networks shared by the library: MLP, residual MLP, and named activations (ReQU, ReQUr)."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


def requ(x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    """ReQU: `relu(x)^2`."""
    return jax.nn.relu(x) ** 2


def requr(x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    """ReQUr (OnsagerNet, Yu et al. 2021): `relu(x)^2 - relu(x - 0.5)^2`.

    Quadratic near 0 and linear (`x - 0.25`) beyond 0.5, so it grows at most linearly.
    """
    return jax.nn.relu(x) ** 2 - jax.nn.relu(x - 0.5) ** 2


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "elu": jax.nn.elu,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "gelu": jax.nn.gelu,
    "sin": jnp.sin,
    "requ": requ,
    "requr": requr,
    "identity": lambda x: x,
}


def activation(name: str) -> Callable[[Array], Array]:
    """The activation called `name` (one of `ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


_named = activation  # for constructors whose `activation` argument shadows the function


class MLP(eqx.Module):
    """Fully connected network `in_size -> width x depth -> out_size` with a named activation."""

    net: eqx.nn.MLP

    def __init__(
        self,
        in_size: int,
        out_size: int,
        width: int,
        depth: int,
        activation: str = "tanh",
        *,
        key: PRNGKeyArray,
    ):
        self.net = eqx.nn.MLP(in_size, out_size, width, depth, _named(activation), key=key)

    def __call__(self, x: Float[Array, " in_size"]) -> Float[Array, " out_size"]:
        return self.net(x)


class ResMLP(eqx.Module):
    """Residual MLP: lift, `depth` blocks `h + W2 s(W1 h)`, then project.

    The blocks are the forward-Euler steps of a continuous-time ResNet (step size folded
    into `W2`).
    """

    lift: eqx.nn.Linear
    blocks: tuple[tuple[eqx.nn.Linear, eqx.nn.Linear], ...]
    project: eqx.nn.Linear
    act: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int,
        width: int,
        depth: int,
        activation: str = "tanh",
        *,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, 2 * depth + 2)
        self.lift = eqx.nn.Linear(in_size, width, key=keys[0])
        self.blocks = tuple(
            (
                eqx.nn.Linear(width, width, key=keys[2 * i + 1]),
                eqx.nn.Linear(width, width, key=keys[2 * i + 2]),
            )
            for i in range(depth)
        )
        self.project = eqx.nn.Linear(width, out_size, key=keys[-1])
        self.act = _named(activation)

    def __call__(self, x: Float[Array, " in_size"]) -> Float[Array, " out_size"]:
        h = self.lift(x)
        for inner, outer in self.blocks:
            h = h + outer(self.act(inner(h)))
        return self.project(h)


def count_params(model: eqx.Module) -> int:
    """Number of trainable scalars (inexact array leaves) in `model`."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
    return int(sum(leaf.size for leaf in leaves))
