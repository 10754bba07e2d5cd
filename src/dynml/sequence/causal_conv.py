"""Weight-normalised dilated causal 1-D convolution (Salimans & Kingma 2016; Bai, Kolter,
Koltun 2018).

`y_t = b + Σ_{j=0}^{k-1} w_j x_{t - j d}` with `x_s = 0` for `s < 0` (left zero padding of
`(k-1) d` samples, the "chomped" convolution of the locuslab TCN), and the weight
normalisation `w = g · v / ‖v‖`, the norm taken per output channel over (input channel,
tap), with `g = ‖v‖` so that `w = v` at the start.

Initialisation: by default `v ~ U(−1/√fan_in, 1/√fan_in)`, `fan_in = c_in · k` (PyTorch's
default `Conv1d` init). That is what the locuslab code effectively trains from: its
`init_weights` writes `N(0, 0.01²)` into `conv.weight`, but PyTorch's `weight_norm` recomputes
`weight` from `g` and `v` before every forward pass, so the write has no effect (confirmed by
the authors, github.com/locuslab/TCN issue #1). `init_std=σ` gives `v ~ N(0, σ²)` instead.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray


class CausalConv1d(eqx.Module):
    """`kernel_size` taps spaced `dilation` apart, `in_size -> out_size` channels."""

    v: Float[Array, "c_out c_in k"]
    g: Float[Array, " c_out"] | None
    bias: Float[Array, " c_out"]
    dilation: int = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int,
        kernel_size: int,
        dilation: int = 1,
        *,
        key: PRNGKeyArray,
        weight_norm: bool = True,
        init_std: float | None = None,
    ):
        if min(in_size, out_size, kernel_size, dilation) < 1:
            raise ValueError(
                f"need positive sizes, kernel and dilation, got {in_size, out_size, kernel_size, dilation}"
            )
        kv, kb = jax.random.split(key)
        shape, bound = (out_size, in_size, kernel_size), 1.0 / np.sqrt(in_size * kernel_size)
        if init_std is None:  # PyTorch's default Conv1d weight init (kaiming_uniform, a = √5)
            self.v = jax.random.uniform(kv, shape, minval=-bound, maxval=bound)
        else:
            self.v = init_std * jax.random.normal(kv, shape)
        self.g = jnp.sqrt(jnp.sum(self.v**2, axis=(1, 2))) if weight_norm else None
        # PyTorch's default Conv1d bias init
        self.bias = jax.random.uniform(kb, (out_size,), minval=-bound, maxval=bound)
        self.dilation = int(dilation)

    @property
    def weight(self) -> Float[Array, "c_out c_in k"]:
        """`w = g v / ‖v‖` (per output channel), or `v` without weight normalisation."""
        if self.g is None:
            return self.v
        norm = jnp.sqrt(jnp.sum(self.v**2, axis=(1, 2), keepdims=True))
        return self.g[:, None, None] * self.v / norm

    @property
    def receptive_field(self) -> int:
        """`(k - 1) d + 1` samples."""
        return (self.v.shape[2] - 1) * self.dilation + 1

    def __call__(self, x: Float[Array, "n_t c_in"]) -> Float[Array, "n_t c_out"]:
        """`y_t = b + Σ_j w_j x_{t-(k-1-j) d}` as one product with the `k` shifted copies of
        `x` side by side. Inside `fit`'s scanned training loop on CPU this is 8x faster than
        `lax.conv` (T = 50, 3 blocks: 8.2 vs 64.6 ms a step), although a lone jitted
        gradient of `lax.conv` is about 2x faster."""
        return self._conv(x, self.dilation)

    def on_grid(self, x: Float[Array, "n c_in"]) -> Float[Array, "n c_out"]:
        """The same convolution on samples `x_s = x_{p + s d}` taken `d` apart (`0 ≤ p < d`):
        on that grid the dilated taps are adjacent, so it is the dilation-1 convolution."""
        return self._conv(x, 1)

    def _conv(self, x, d: int):
        c_out, c_in, k = self.v.shape
        n_t = x.shape[0]
        xp = jnp.pad(x, (((k - 1) * d, 0), (0, 0)))
        cols = jnp.concatenate([xp[j * d : j * d + n_t] for j in range(k)], axis=1)
        return cols @ self.weight.transpose(2, 1, 0).reshape(k * c_in, c_out) + self.bias
