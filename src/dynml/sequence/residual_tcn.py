"""The TCN of Bai, Kolter, Koltun (2018, "An empirical evaluation of generic convolutional and
recurrent networks for sequence modeling"; github.com/locuslab/TCN).

Block `i` (dilation `d = 2^i`): `h ↦ ReLU(F(h) + R h)` with
`F = ReLU ∘ conv₂ ∘ ReLU ∘ conv₁`, both weight-normalised causal convolutions of kernel `k`
and dilation `d` (`causal_conv.CausalConv1d`, initialised as the authors' code effectively
initialises them: PyTorch's default), and `R` the identity, or a 1×1 convolution
(weights `N(0, 0.01²)`) when the channel count changes. Dropout is omitted (the paper's
adding-problem setting uses none). A linear readout (weights `N(0, 0.01²)`) acts at every
step. `L` blocks see the last `1 + 2 (k - 1)(2^L - 1)` inputs.
"""

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .base import AbstractSequenceModel
from .causal_conv import CausalConv1d


def tcn_receptive_field(kernel_size: int, levels: int) -> int:
    """`1 + 2 (k - 1)(2^L - 1)`: two convolutions of reach `(k-1) 2^i` in each block `i`."""
    return 1 + 2 * (kernel_size - 1) * (2**levels - 1)


def tcn_levels(length: int, kernel_size: int) -> int:
    """The fewest blocks whose receptive field covers `length` inputs."""
    levels = 1
    while tcn_receptive_field(kernel_size, levels) < length:
        levels += 1
    return levels


class TemporalBlock(eqx.Module):
    """`ReLU(ReLU(conv₂ ReLU(conv₁ h)) + R h)`, `R` = identity or a 1×1 convolution."""

    conv1: CausalConv1d
    conv2: CausalConv1d
    project: Float[Array, "out in"] | None
    project_bias: Float[Array, " out"] | None

    def __init__(self, in_size: int, out_size: int, kernel_size: int, dilation: int, *, key):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.conv1 = CausalConv1d(in_size, out_size, kernel_size, dilation, key=k1)
        self.conv2 = CausalConv1d(out_size, out_size, kernel_size, dilation, key=k2)
        if in_size != out_size:
            self.project = 0.01 * jax.random.normal(k3, (out_size, in_size))
            bound = 1.0 / np.sqrt(in_size)
            self.project_bias = jax.random.uniform(k4, (out_size,), minval=-bound, maxval=bound)
        else:
            self.project = self.project_bias = None

    def __call__(
        self, h: Float[Array, "n_t in"], *, on_grid: bool = False
    ) -> Float[Array, "n_t out"]:
        """On all samples, or (`on_grid`) on samples `h_{p + s d}` spaced by the dilation."""
        conv1, conv2 = (
            (self.conv1.on_grid, self.conv2.on_grid) if on_grid else (self.conv1, self.conv2)
        )
        out = jax.nn.relu(conv2(jax.nn.relu(conv1(h))))
        res = h if self.project is None else h @ self.project.T + self.project_bias
        return jax.nn.relu(out + res)


class ResidualTCN(AbstractSequenceModel):
    """`levels` temporal blocks of `channels` channels, kernel `kernel_size`, dilations `2^i`."""

    blocks: tuple[TemporalBlock, ...]
    readout_w: Float[Array, "out C"]
    readout_b: Float[Array, " out"]
    kernel_size: int = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int,
        channels: int = 30,
        levels: int = 8,
        kernel_size: int = 7,
        *,
        key: PRNGKeyArray,
    ):
        if channels < 1 or levels < 1 or kernel_size < 2:
            raise ValueError(
                f"need channels, levels >= 1 and kernel_size >= 2, got {channels, levels, kernel_size}"
            )
        keys = jax.random.split(key, levels + 2)
        sizes = [in_size] + [channels] * levels
        self.blocks = tuple(
            TemporalBlock(sizes[i], sizes[i + 1], kernel_size, 2**i, key=keys[i])
            for i in range(levels)
        )
        self.readout_w = 0.01 * jax.random.normal(keys[-2], (out_size, channels))
        bound = 1.0 / np.sqrt(channels)
        self.readout_b = jax.random.uniform(keys[-1], (out_size,), minval=-bound, maxval=bound)
        self.kernel_size = int(kernel_size)

    @property
    def receptive_field(self) -> int:
        return tcn_receptive_field(self.kernel_size, len(self.blocks))

    def forward(self, x: Float[Array, "n_t in"]) -> Float[Array, "n_t out"]:
        h = x
        for block in self.blocks:
            h = block(h)
        return h @ self.readout_w.T + self.readout_b

    def last(self, x: Float[Array, "n_t in"]) -> Float[Array, " out"]:
        """`ŷ_{T-1}` computing only the samples it depends on: block `i` (dilation `2^i`)
        reads its input at `T-1 - 2^i m` only, so after each block every second sample,
        counted from the end, is kept and the next block runs `on_grid`. Block `i` costs
        `T / 2^i` samples: about `4T` convolution outputs in all instead of `2 L T`."""
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h, on_grid=True)  # h_s = x-grid sample T-1 - 2^i (n-1-s)
            if i + 1 < len(self.blocks):
                h = h[(h.shape[0] - 1) % 2 :: 2]
        return h[-1] @ self.readout_w.T + self.readout_b
