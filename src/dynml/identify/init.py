"""Small-gain initialisation of linear layers, as in the OnsagerNet authors' code.

Yu, Tian, E, Li (Phys. Rev. Fluids 6, 114402, 2021) start every layer near zero: weights
Xavier-uniform `U(-a, a)`, `a = gain sqrt(6 / (fan_in + fan_out))`, or orthogonal with norm
`gain`; biases `U(0, bias_gain)`; gain 0.1. With ReQU (`relu(x)^2`, unbounded slope) the
default fan-in initialisation can overflow at the first step on raw Lorenz coordinates
(|h| ~ 30); the small gain keeps the first field evaluations of order one.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


def xavier_uniform(key: PRNGKeyArray, shape: tuple[int, int], gain: float) -> Float[Array, "o i"]:
    """`U(-a, a)` with `a = gain sqrt(6 / (fan_in + fan_out))` (Glorot and Bengio 2010)."""
    bound = gain * jnp.sqrt(6.0 / (shape[0] + shape[1]))
    return jax.random.uniform(key, shape, minval=-bound, maxval=bound)


def orthogonal(key: PRNGKeyArray, shape: tuple[int, int], gain: float) -> Float[Array, "o i"]:
    """`gain` times a matrix with orthonormal rows or columns (Saxe et al. 2014)."""
    return jax.nn.initializers.orthogonal(scale=gain)(key, shape)


def small_gain(
    layer: eqx.nn.Linear,
    key: PRNGKeyArray,
    gain: float = 0.1,
    *,
    bias_gain: float | None = None,
    weight: str = "xavier",
) -> eqx.nn.Linear:
    """`layer` with weight `xavier_uniform` or `orthogonal` of `gain`, bias `U(0, bias_gain)`."""
    if weight not in ("xavier", "orthogonal"):
        raise ValueError(f"weight must be 'xavier' or 'orthogonal', got {weight!r}")
    kw, kb = jax.random.split(key)
    draw = xavier_uniform if weight == "xavier" else orthogonal
    layer = eqx.tree_at(lambda m: m.weight, layer, draw(kw, layer.weight.shape, gain))
    if layer.bias is not None:
        top = gain if bias_gain is None else bias_gain
        bias = jax.random.uniform(kb, layer.bias.shape, maxval=top)
        layer = eqx.tree_at(lambda m: m.bias, layer, bias)
    return layer
