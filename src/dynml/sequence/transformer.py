"""A small causal (decoder-only) transformer: the attention baseline for sequence tasks.

Pre-layer-norm blocks `h + MHA(LN h)` (causal mask) then `h + MLP(LN h)`, learned position
embeddings, linear readout at every step (Vaswani et al. 2017; nanoGPT layout).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .base import AbstractSequenceModel


class _Block(eqx.Module):
    norm1: eqx.nn.LayerNorm
    attn: eqx.nn.MultiheadAttention
    norm2: eqx.nn.LayerNorm
    mlp: eqx.nn.MLP

    def __init__(self, d_model: int, heads: int, *, key: PRNGKeyArray):
        ka, km = jax.random.split(key)
        self.norm1 = eqx.nn.LayerNorm(d_model)
        self.attn = eqx.nn.MultiheadAttention(heads, d_model, key=ka)
        self.norm2 = eqx.nn.LayerNorm(d_model)
        self.mlp = eqx.nn.MLP(d_model, d_model, 4 * d_model, 1, jax.nn.gelu, key=km)

    def __call__(self, h: Float[Array, "n_t d"]) -> Float[Array, "n_t d"]:
        n_t = h.shape[0]
        mask = jnp.tril(jnp.ones((n_t, n_t), bool))
        z = jax.vmap(self.norm1)(h)
        h = h + self.attn(z, z, z, mask=mask)
        return h + jax.vmap(self.mlp)(jax.vmap(self.norm2)(h))


class CausalTransformer(AbstractSequenceModel):
    """`depth` causal attention blocks of width `d_model` over sequences up to `max_len`."""

    embed: eqx.nn.Linear
    position: Float[Array, "max_len d"]
    blocks: tuple[_Block, ...]
    norm: eqx.nn.LayerNorm
    readout: eqx.nn.Linear

    def __init__(
        self,
        in_size: int,
        out_size: int,
        max_len: int,
        d_model: int = 32,
        depth: int = 2,
        heads: int = 4,
        *,
        key: PRNGKeyArray,
    ):
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by heads ({heads})")
        keys = jax.random.split(key, depth + 3)
        self.embed = eqx.nn.Linear(in_size, d_model, key=keys[0])
        self.position = 0.02 * jax.random.normal(keys[1], (max_len, d_model))
        self.blocks = tuple(_Block(d_model, heads, key=k) for k in keys[2:-1])
        self.norm = eqx.nn.LayerNorm(d_model)
        self.readout = eqx.nn.Linear(d_model, out_size, key=keys[-1])

    def forward(self, x: Float[Array, "n_t in"]) -> Float[Array, "n_t out"]:
        n_t = x.shape[0]
        if n_t > self.position.shape[0]:
            raise ValueError(f"sequence length {n_t} exceeds max_len {self.position.shape[0]}")
        h = jax.vmap(self.embed)(x) + self.position[:n_t]
        for block in self.blocks:
            h = block(h)
        return jax.vmap(self.readout)(jax.vmap(self.norm)(h))
