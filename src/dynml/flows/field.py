"""A time-dependent neural vector field `f(t, x; theta)` for continuous-time ResNets."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.nn import MLP


class NeuralField(eqx.Module):
    """`f(t, x) = MLP([x, t])`: the continuum limit of residual blocks `x + dt f(x, theta_t)`.

    Feeding `t` to the network lets the parameters vary with depth, as `theta_t` does.
    """

    net: MLP

    def __init__(
        self, dim: int, width: int, depth: int, activation: str = "tanh", *, key: PRNGKeyArray
    ):
        self.net = MLP(dim + 1, dim, width, depth, activation, key=key)

    def __call__(self, t, x: Float[Array, " dim"], args=None) -> Float[Array, " dim"]:
        return self.net(jnp.concatenate([x, jnp.reshape(t, (1,))]))
