"""Temporal CNN: dilated causal convolutions, filter 2, dilation `2^{k-1}` (WaveNet-like).

Layer `k` maps `h^{k-1}` to `h^k_t = σ(W_0^k h^{k-1}_t + W_1^k h^{k-1}_{t-2^{k-1}} + b^k)`,
so `K` layers see the last `2^K` inputs (Jiang, Li, Li, ICML 2021). With the identity
activation and no biases the whole network is a linear causal convolution whose kernel has
tensor-train ranks at most the number of channels.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.nn import activation as named_activation
from .base import AbstractSequenceModel


def _shift(h: Float[Array, "n_t C"], lag: int) -> Float[Array, "n_t C"]:
    """`h_{t-lag}` with zeros before the start."""
    return jnp.pad(h, ((lag, 0), (0, 0)))[: h.shape[0]]


class TemporalCNN(AbstractSequenceModel):
    """Stack of `depth` dilated causal convolutions with `channels` channels."""

    lift: Float[Array, "C in"]
    taps: Float[Array, "depth 2 C C"]
    biases: Float[Array, "depth C"] | None
    readout: Float[Array, "out C"]
    act: Callable[[Array], Array] = eqx.field(static=True)
    residual: bool = eqx.field(static=True)

    def __init__(
        self,
        channels: int,
        depth: int,
        in_size: int = 1,
        out_size: int = 1,
        *,
        key: PRNGKeyArray,
        activation: str = "identity",
        residual: bool = False,
        use_bias: bool | None = None,
    ):
        """Biases default to on for a nonlinear network and off for the linear one."""
        if channels < 1 or depth < 1:
            raise ValueError(f"need channels, depth >= 1, got {channels}, {depth}")
        kl, kt, kr = jax.random.split(key, 3)
        self.lift = jax.random.normal(kl, (channels, in_size)) / np.sqrt(in_size)
        self.taps = jax.random.normal(kt, (depth, 2, channels, channels)) / np.sqrt(2 * channels)
        if use_bias is None:
            use_bias = activation != "identity"
        self.biases = jnp.zeros((depth, channels)) if use_bias else None
        self.readout = jax.random.normal(kr, (out_size, channels)) / np.sqrt(channels)
        self.act = named_activation(activation)
        self.residual = residual

    @property
    def receptive_field(self) -> int:
        return 2 ** self.taps.shape[0]

    def forward(self, x: Float[Array, "n_t in"]) -> Float[Array, "n_t out"]:
        h = x @ self.lift.T
        for k in range(self.taps.shape[0]):
            z = h @ self.taps[k, 0].T + _shift(h, 2**k) @ self.taps[k, 1].T
            if self.biases is not None:
                z = z + self.biases[k]
            z = self.act(z)
            h = h + z if self.residual else z
        return h @ self.readout.T
