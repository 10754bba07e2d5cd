"""Gated recurrent unit (Cho et al. 2014), the gated-RNN baseline of Bai, Kolter, Koltun
(2018): `r = σ(W_r x + U_r h + b_r)`, `z = σ(W_z x + U_z h + b_z)`,
`n = tanh(W_n x + b_n + r ⊙ (U_n h + b_n'))`, `h' = (1 - z) ⊙ n + z ⊙ h`
(`equinox.nn.GRUCell`), with a linear readout at every step.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .base import AbstractSequenceModel


class GRU(AbstractSequenceModel):
    """One GRU layer of width `width` and a linear readout."""

    cell: eqx.nn.GRUCell
    readout: eqx.nn.Linear

    def __init__(self, width: int, in_size: int = 1, out_size: int = 1, *, key: PRNGKeyArray):
        if width < 1:
            raise ValueError(f"width must be a positive integer, got {width}")
        kc, kr = jax.random.split(key)
        self.cell = eqx.nn.GRUCell(in_size, width, key=kc)
        self.readout = eqx.nn.Linear(width, out_size, key=kr)

    def forward(self, x: Float[Array, "n_t in"]) -> Float[Array, "n_t out"]:
        def step(h, xk):
            h = self.cell(xk, h)
            return h, h

        hs = jax.lax.scan(step, jnp.zeros(self.cell.hidden_size), x)[1]
        return jax.vmap(self.readout)(hs)
