"""`FlowModel`: readout of a learned flow map, `g(phi_T(embed(z)))` with `g` affine.

The input `z` is embedded into `R^{d + augment}` by zero padding (augmentation), transported
by the flow of a `NeuralField` over `[0, T]` (fixed-step RK4 through `core.solve`, so the
model is a residual network with `n_steps` layers), then read out by an affine map.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.solve import solve
from .field import NeuralField


class FlowModel(eqx.Module):
    """Continuous-time ResNet `z -> W phi_T(z, 0...0) + b` (a classifier or a regressor).

    With `readout="identity"` the output is the first `out_dim` coordinates of `phi_T`
    (the family `G = {id}` of the 1-D monotonicity argument).
    """

    field: NeuralField
    readout: eqx.nn.Linear | None
    in_dim: int = eqx.field(static=True)
    augment: int = eqx.field(static=True)
    out_dim: int = eqx.field(static=True)
    horizon: float = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 1,
        *,
        augment: int = 0,
        width: int = 32,
        depth: int = 2,
        horizon: float = 1.0,
        n_steps: int = 20,
        readout: str = "linear",
        activation: str = "tanh",
        key: PRNGKeyArray,
    ):
        if readout not in ("linear", "identity"):
            raise ValueError(f"readout must be 'linear' or 'identity', got {readout!r}")
        k_field, k_out = jax.random.split(key)
        dim = in_dim + augment
        self.field = NeuralField(dim, width, depth, activation, key=k_field)
        self.readout = eqx.nn.Linear(dim, out_dim, key=k_out) if readout == "linear" else None
        self.in_dim, self.augment, self.out_dim = in_dim, augment, out_dim
        self.horizon, self.n_steps = horizon, n_steps

    def embed(self, z: Float[Array, "batch in_dim"]) -> Float[Array, "batch dim"]:
        return jnp.pad(z, ((0, 0), (0, self.augment)))

    def transport(
        self, z: Float[Array, "batch in_dim"], n_save: int = 2
    ) -> Float[Array, "batch n_save dim"]:
        """Embedded points carried by the flow, saved at `n_save` times in `[0, horizon]`."""
        ts = np.linspace(0.0, self.horizon, n_save)
        dt = self.horizon / self.n_steps
        return solve(self.field, self.embed(z), ts, solver="rk4", dt=dt, batch=True)

    def read(self, x: Float[Array, "batch dim"]) -> Float[Array, "batch out_dim"]:
        if self.readout is None:
            return x[:, : self.out_dim]
        return jax.vmap(self.readout)(x)

    def __call__(self, z: Float[Array, "batch in_dim"]) -> Float[Array, "batch out_dim"]:
        return self.read(self.transport(z)[:, -1])


@eqx.filter_jit
def _apply(model, z):
    return model(z)


def predict(
    model: eqx.Module, z: Float[Array, "n in_dim"], chunk: int = 4096
) -> Float[Array, "n out_dim"]:
    """`model(z)` evaluated in jitted chunks of `chunk` rows (the last one zero-padded).

    Every call with a model of the same structure reuses one compilation, whatever `n`
    (evaluating a model eagerly on each new number of rows would compile each time). Rows
    are independent (the flow acts on each point alone), so padding changes nothing.
    """
    z = jnp.asarray(z)
    n = z.shape[0]
    size = int(chunk)
    pad = (-n) % size
    zp = jnp.pad(z, ((0, pad),) + ((0, 0),) * (z.ndim - 1))
    out = [_apply(model, zp[i : i + size]) for i in range(0, n + pad, size)]
    return jnp.concatenate(out)[:n]


def binary_cross_entropy(model: FlowModel, batch) -> Array:
    """Mean logistic loss of the logit `model(z)` against labels in {0, 1}."""
    z, y = batch
    logits = model(z)[:, 0]
    return jnp.mean(jax.nn.softplus(logits) - y * logits)


def mean_squared_error(model: FlowModel, batch) -> Array:
    """Mean squared error of `model(z)` against targets `y` of shape `(batch, out_dim)`."""
    z, y = batch
    return jnp.mean((model(z) - y) ** 2)
