"""Reduced coordinates for high-dimensional dynamics: PCA and a near-isometric autoencoder.

Yu, Tian, E, Li (Phys. Rev. Fluids 6, 114402, 2021), section on Rayleigh–Bénard convection:
the fields are first projected by PCA; the "PCA-ResNet" autoencoder refines the projection
with layers `[D, n_1, ..., m]`, each a linear map initialised from PCA plus a residual
`W_2 act(W_1 x)` (zero at initialisation, so the untrained autoencoder *is* PCA); the first
layer (the PCA projection `D -> n_1`) is frozen. It is trained jointly with a vector field on
the reduced coordinates `h = E(x)` by

    loss = ODE loss(h_1, h_2) + |D(E(x)) - x|^2 + relu(L_iso - 0.8 L_iso^PCA),
    L_iso = mean | |h_1 - h_2|^2 - |x_1 - x_2|^2 | / dt^2,

which keeps the encoder near-isometric on consecutive snapshots (at least 20% more so than
PCA itself).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.data import Trajectories
from ..core.nn import activation as _act
from ..core.train import FitResult, fit
from .training import adamw_amsgrad, heun_loss


class PCA(eqx.Module):
    """Principal components: `h = (x - mean) V_m^T`, `x ~ mean + h V_m`.

    `PCA.fit(x, m)`; `explained_variance_ratio` holds the leading ratios (up to `n_report`),
    `variance` the variances of the kept coordinates.
    """

    mean: Float[Array, " dim"]
    components: Float[Array, "m dim"]
    variance: Float[Array, " m"]
    explained_variance_ratio: Float[Array, " n_report"]

    @classmethod
    def fit(cls, x: Float[np.ndarray, "n dim"], m: int, n_report: int = 10) -> "PCA":
        """Fit on the rows of `x` (eigen-decomposition of the covariance, float64).

        The covariance is `X_c^T X_c / n` (divisor `n`); with fewer samples than dimensions
        the SVD of `X_c` gives the same spectrum. This is scikit-learn's
        `PCA(svd_solver="covariance_eigh")` (resp. `"full"`) with the population divisor:
        components agree up to the sign of each one, `variance` is sklearn's
        `explained_variance_ * (n - 1) / n`, ratios are equal (tested against sklearn). The
        hand-written form is kept because sklearn's sign convention (`svd_flip`) would flip
        components and so change every downstream PCA coordinate (the Rayleigh–Bénard
        study's reduced data and the models fitted on it) without changing the subspace.
        """
        x = np.asarray(x, np.float64)
        if x.ndim != 2:
            raise ValueError(f"PCA.fit needs x of shape (n_samples, dim), got {x.shape}")
        if not 1 <= m <= min(x.shape):
            raise ValueError(f"PCA.fit needs 1 <= m <= min(n_samples, dim) = {min(x.shape)}")
        mean = x.mean(axis=0)
        xc = x - mean
        if x.shape[0] >= x.shape[1]:
            var, vecs = np.linalg.eigh(xc.T @ xc / x.shape[0])
            order = np.argsort(var)[::-1]
            var, vecs = np.clip(var[order], 0.0, None), vecs[:, order].T
        else:
            _, sing, vecs = np.linalg.svd(xc, full_matrices=False)
            var = sing**2 / x.shape[0]
        ratio = var / var.sum()
        return cls(
            jnp.asarray(mean, jnp.float32),
            jnp.asarray(vecs[:m], jnp.float32),
            jnp.asarray(var[:m], jnp.float32),
            jnp.asarray(ratio[: max(m, n_report)], jnp.float32),
        )

    @property
    def dim(self) -> int:
        return self.components.shape[0]

    def encode(self, x: Float[Array, "*batch dim"]) -> Float[Array, "*batch m"]:
        return (x - self.mean) @ self.components.T

    def decode(self, h: Float[Array, "*batch m"]) -> Float[Array, "*batch dim"]:
        return self.mean + h @ self.components

    def leading(self, m: int) -> "PCA":
        """The same fit keeping only the first `m` components (and their variances)."""
        if not 1 <= m <= self.dim:
            raise ValueError(f"PCA.leading needs 1 <= m <= {self.dim}, got {m}")
        return PCA(self.mean, self.components[:m], self.variance[:m], self.explained_variance_ratio)


class ResidualLayer(eqx.Module):
    """`y = P x + b + W_2 act(W_1 x + c)` with `P` given (PCA) and `W_2 = 0` at initialisation."""

    linear: Float[Array, "out inp"]
    bias: Float[Array, " out"]
    inner: eqx.nn.Linear
    outer: eqx.nn.Linear
    act: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(self, linear, hidden: int, activation: str = "tanh", *, key: PRNGKeyArray):
        linear = jnp.asarray(linear, jnp.float32)
        out, inp = linear.shape
        k1, k2 = jax.random.split(key)
        self.linear, self.bias = linear, jnp.zeros(out)
        self.inner = eqx.nn.Linear(inp, hidden, key=k1)
        outer = eqx.nn.Linear(hidden, out, key=k2)
        self.outer = eqx.tree_at(
            lambda layer: (layer.weight, layer.bias),
            outer,
            (jnp.zeros((out, hidden)), jnp.zeros(out)),
        )
        self.act = _act(activation)

    def __call__(self, x: Float[Array, " inp"]) -> Float[Array, " out"]:
        return self.linear @ x + self.bias + self.outer(self.act(self.inner(x)))


class PCAResNet(eqx.Module):
    """Near-isometric autoencoder `x -> PCA(n_1) -> ... -> m -> ... -> n_1 -> x`.

    `PCAResNet(pca, widths=(32, m), hidden=64, key=...)` with `pca` fitted with `n_1`
    components: the frozen first layer is `pca.encode` (and the last `pca.decode`); the other
    layers are PCA-initialised residual layers (PCA coordinates are already ordered and
    uncorrelated, so "PCA of the layer's input" is the coordinate selection `[I 0]`).
    Untrained, `encode` equals the `m`-component PCA.
    """

    pca: PCA
    encoder: tuple[ResidualLayer, ...]
    decoder: tuple[ResidualLayer, ...]

    def __init__(
        self,
        pca: PCA,
        widths: tuple[int, ...],
        hidden: int = 64,
        activation: str = "tanh",
        *,
        key: PRNGKeyArray,
    ):
        sizes = (pca.dim, *widths)
        if any(b > a for a, b in zip(sizes[:-1], sizes[1:], strict=True)) or len(widths) < 1:
            raise ValueError(f"widths must decrease from the PCA's {pca.dim} components: {sizes}")
        keys = jax.random.split(key, 2 * len(widths))
        select = [np.eye(b, a) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        self.pca = pca
        self.encoder = tuple(
            ResidualLayer(p, hidden, activation, key=k)
            for p, k in zip(select, keys[: len(widths)], strict=True)
        )
        self.decoder = tuple(
            ResidualLayer(p.T, hidden, activation, key=k)
            for p, k in zip(select[::-1], keys[len(widths) :], strict=True)
        )

    def encode(self, x: Float[Array, " dim"]) -> Float[Array, " m"]:
        h = jax.lax.stop_gradient(self.pca).encode(x)
        for layer in self.encoder:
            h = layer(h)
        return h

    def decode(self, h: Float[Array, " m"]) -> Float[Array, " dim"]:
        for layer in self.decoder:
            h = layer(h)
        return jax.lax.stop_gradient(self.pca).decode(h)


def isometry_loss(encode: Callable, x1: Array, x2: Array, dt: Array) -> Array:
    """`L_iso = mean | |E(x_1) - E(x_2)|^2 - |x_1 - x_2|^2 | / dt^2` over pairs."""
    h1, h2 = jax.vmap(encode)(x1), jax.vmap(encode)(x2)
    gap = jnp.sum((h1 - h2) ** 2, axis=-1) - jnp.sum((x1 - x2) ** 2, axis=-1)
    return jnp.mean(jnp.abs(gap) / dt**2)


def reconstruction_loss(ae: PCAResNet, x: Float[Array, "n D"]) -> Float[Array, ""]:
    """Mean squared reconstruction error per component, `mean |D(E(x)) - x|^2 / dim`."""
    return jnp.mean((jax.vmap(lambda xi: ae.decode(ae.encode(xi)))(x) - x) ** 2)


def joint_loss(models: tuple, batch: tuple, iso_reference: float) -> Array:
    """ODE loss on `h = E(x)` + reconstruction + `relu(L_iso - 0.8 L_iso^PCA)`.

    `models = (autoencoder, vector_field)`, `batch = (x1, x2, dt)`; the ODE loss is the
    one-step Heun loss of `identify.training` on the encoded pairs.
    """
    ae, field = models
    x1, x2, dt = batch
    h1, h2 = jax.vmap(ae.encode)(x1), jax.vmap(ae.encode)(x2)
    ode = heun_loss(field, (h1, h2, dt))
    iso = isometry_loss(ae.encode, x1, x2, dt)
    penalty = jax.nn.relu(iso - 0.8 * iso_reference)
    return ode + reconstruction_loss(ae, x1) + penalty


def train_jointly(
    ae: PCAResNet,
    field: eqx.Module,
    pairs: tuple[Array, Array, Array] | Trajectories,
    *,
    epochs: int,
    key: PRNGKeyArray,
    batch_size: int = 200,
    learning_rate: float = 1e-3,
    progress: bool = True,
) -> FitResult:
    """Fit `(ae, field)` by `joint_loss` on snapshot pairs `(x1, x2, dt)` (dt per pair or one
    for all), or on
    the consecutive snapshot pairs of `Trajectories`.

    The isometry reference `L_iso^PCA` is the untrained (PCA) encoder's value on `pairs`.
    Returns the `FitResult` whose `model` is the pair `(ae, field)`.
    """
    if isinstance(pairs, Trajectories):
        x1, x2, dt = pairs.pairs()
        pairs = (x1, x2, np.full(len(x1), dt))
    x1, x2, dt = (jnp.asarray(a, jnp.float32) for a in pairs)
    dt = jnp.broadcast_to(dt, x1.shape[:1])  # a scalar dt serves every pair
    iso_pca = float(eqx.filter_jit(isometry_loss)(ae.encode, x1, x2, dt))
    n = x1.shape[0]
    steps = epochs * max(1, n // min(batch_size, n))
    return fit(
        (ae, field),
        lambda models, batch: joint_loss(models, batch, iso_pca),
        (x1, x2, dt),
        steps=steps,
        key=key,
        optimizer=adamw_amsgrad(learning_rate, weight_decay=0.0),
        batch_size=batch_size,
        clip_norm=1.0,
        log_every=steps,  # one compiled chunk
        progress=progress,
        desc="autoencoder + field",
    )


def relative_reconstruction_error(model, x: Float[np.ndarray, "*batch dim"]) -> float:
    """`|D(E(x)) - x| / |x - mean(x)|` (Frobenius norms over all snapshots of `x`).

    For PCA with `m` components this is `(sum_{i > m} var_i / sum_i var_i)^{1/2}` on its own
    training data: the fraction of the fluctuation the reduced coordinates do not capture.
    """
    flat = jnp.asarray(x.reshape(-1, x.shape[-1]))
    recon = jax.vmap(lambda v: model.decode(model.encode(v)))(flat)
    return float(jnp.linalg.norm(recon - flat) / jnp.linalg.norm(flat - jnp.mean(flat, 0)))
