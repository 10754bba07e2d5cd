"""Layers of a network seen as a discrete-time control system `x_{t+1} = f_t(x_t, θ_t)`.

Every layer maps a whole batch state to the next (`(S, ...) -> (S, ...)`), so layers that couple
samples (batch norm) fit the same Pontryagin machinery as per-sample ones. The trainable leaves
of a layer are its control `θ_t`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..core import nn as _nn
from ..core.nn import activation


class Residual(eqx.Module):
    """Residual dense layer `x + h·σ(W x + b)` (Li, Chen, Tai, E 2018 toy net)."""

    weight: Float[Array, "dim dim"]
    bias: Float[Array, " dim"]
    step: float = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(self, dim: int, *, step: float = 0.25, activation: str = "tanh", key=None):
        """Zero weights (the toy problem's saddle) when `key` is `None`, else `N(0, 1/dim)`."""
        _nn.activation(activation)
        if key is None:
            self.weight = jnp.zeros((dim, dim))
        else:
            self.weight = jax.random.normal(key, (dim, dim)) / jnp.sqrt(dim)
        self.bias = jnp.zeros(dim)
        self.step, self.act = step, activation

    def __call__(self, x: Float[Array, "S dim"]) -> Float[Array, "S dim"]:
        return x + self.step * activation(self.act)(x @ self.weight.T + self.bias)


class Dense(eqx.Module):
    """Dense layer `σ(W x + b)` (identity `σ` for a classifier head)."""

    weight: Float[Array, "out inp"]
    bias: Float[Array, " out"]
    act: str = eqx.field(static=True)

    def __init__(self, inp: int, out: int, *, key: PRNGKeyArray, activation: str = "identity"):
        _nn.activation(activation)
        self.weight = jax.random.normal(key, (out, inp)) / jnp.sqrt(inp)
        self.bias = jnp.zeros(out)
        self.act = activation

    def __call__(self, x: Float[Array, "S inp"]) -> Float[Array, "S out"]:
        return activation(self.act)(x @ self.weight.T + self.bias)


def _conv(x, kernel):
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME")


class Conv(eqx.Module):
    """Convolution `σ(K * x + b)` with SAME padding on `(S, C, H, W)` batches."""

    kernel: Float[Array, "out inp k k"]
    bias: Float[Array, " out"]
    act: str = eqx.field(static=True)

    def __init__(
        self, inp: int, out: int, size: int = 3, *, key: PRNGKeyArray, activation: str = "tanh"
    ):
        _nn.activation(activation)
        self.kernel = jax.random.normal(key, (out, inp, size, size)) / jnp.sqrt(inp * size**2)
        self.bias = jnp.zeros(out)
        self.act = activation

    def __call__(self, x: Float[Array, "S C H W"]) -> Float[Array, "S C2 H W"]:
        return activation(self.act)(_conv(x, self.kernel) + self.bias[:, None, None])


class ConvResidual(eqx.Module):
    """Residual convolution `x + h·tanh(K * x + b)` (the E-MSA MNIST net, h = 0.5)."""

    conv: Conv
    step: float = eqx.field(static=True)

    def __init__(self, channels: int, size: int = 3, *, key: PRNGKeyArray, step: float = 0.5):
        self.conv = Conv(channels, channels, size, key=key, activation="tanh")
        self.step = step

    def __call__(self, x: Float[Array, "S C H W"]) -> Float[Array, "S C H W"]:
        return x + self.step * self.conv(x)


class AvgPool(eqx.Module):
    """2×2 average pooling (no control)."""

    def __call__(self, x: Float[Array, "S C H W"]) -> Float[Array, "S C H2 W2"]:
        s, c, h, w = x.shape
        return x.reshape(s, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


class ChannelMean(eqx.Module):
    """Spatial mean of each channel: `(S, C, H, W) -> (S, C)` (no control)."""

    def __call__(self, x: Float[Array, "S C H W"]) -> Float[Array, "S C"]:
        return x.mean(axis=(2, 3))


class Flatten(eqx.Module):
    """`(S, ...) -> (S, prod(...))` (no control)."""

    def __call__(self, x: Float[Array, "S ..."]) -> Float[Array, "S features"]:
        return x.reshape(x.shape[0], -1)


def residual_classifier(kind: str, side: int, key: PRNGKeyArray, classes: int = 10) -> tuple:
    """Two residual classifiers on `(S, 1, side, side)` images.

    `conv`: the E-MSA paper's MNIST net (Li, Chen, Tai, E, JMLR 2018): conv 5 channels tanh,
    2×2 average pool, conv 5 channels, pool, two residual convolutions `x + 0.5 tanh(K * x + b)`,
    channel mean, dense to `classes`. `dense`: flatten, dense 32 tanh, four residual layers
    `x + 0.5 tanh(W x + b)`, dense to `classes`.
    """
    k = jax.random.split(key, 8)
    if kind == "conv":
        return (
            Conv(1, 5, key=k[0]),
            AvgPool(),
            Conv(5, 5, key=k[1]),
            AvgPool(),
            ConvResidual(5, key=k[2]),
            ConvResidual(5, key=k[3]),
            ChannelMean(),
            Dense(5, classes, key=k[4]),
        )
    if kind == "dense":
        blocks = tuple(Residual(32, step=0.5, key=kk) for kk in k[2:6])
        return (
            Flatten(),
            Dense(side * side, 32, key=k[0], activation="tanh"),
            *blocks,
            Dense(32, classes, key=k[1]),
        )
    raise ValueError(f"net must be 'conv' or 'dense', got {kind!r}")
