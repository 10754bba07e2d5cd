"""Approximation of memory kernels: white-noise loss, ensemble kernel fitting, TT spectra.

- White-noise loss (Li, Han, E, Li 2021): for inputs that are white noise the expected
  squared error of a linear model with kernel `ρ̂` is `∫_0^∞ |ρ̂(t) - ρ(t)|² dt`; on a grid
  `dt Σ_s (ρ̂_s - ρ_s)²`.
- Spectral regularity (Jiang, Li, Li 2021): `ρ` sampled on `2^K` points is reshaped into an
  order-`K` tensor of shape `2 × … × 2`; the singular values of its unfoldings
  `(2^k, 2^{K-k})` (its tensor-train singular values) govern how many channels a temporal
  CNN needs.
"""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..core.train import FitResult, fit
from .linear_rnn import LinearRNN


def white_noise_loss(
    rho_hat: Float[Array, "... n_t"], rho: Float[Array, "... n_t"], dt: float
) -> Float[Array, "..."]:
    """`dt Σ_s (ρ̂_s - ρ_s)²`: the Riemann sum of `∫|ρ̂ - ρ|² dt` on the grid."""
    return dt * jnp.sum((rho_hat - rho) ** 2, axis=-1)


def relative_error(
    rho_hat: Float[ArrayLike, "*batch n"], rho: Float[ArrayLike, "*batch n"]
) -> Float[np.ndarray, "*batch"]:
    """`‖ρ̂ - ρ‖ / ‖ρ‖` in the discrete L² norm of the grid."""
    rho_hat, rho = np.asarray(rho_hat), np.asarray(rho)
    return np.linalg.norm(rho_hat - rho, axis=-1) / np.linalg.norm(rho, axis=-1)


def l1_relative_error(
    rho_hat: Float[ArrayLike, "*batch n"], rho: Float[ArrayLike, "*batch n"]
) -> Float[np.ndarray, "*batch"]:
    """`Σ|ρ̂ - ρ| / Σ|ρ|`: the relative error in the operator norm for bounded inputs."""
    rho_hat, rho = np.asarray(rho_hat), np.asarray(rho)
    return np.abs(rho_hat - rho).sum(-1) / np.abs(rho).sum(-1)


def impulse_response(model: Callable, length: int, dt: float) -> Float[Array, " length"]:
    """The kernel `ρ̂_s` of a causal linear single-input single-output model.

    Feeds the unit impulse `x = e_0` and divides by `dt`, since the models compute
    `ŷ_k = dt Σ_s ρ̂_s x_{k-s}` (the same convention as `systems.memory.causal_convolution`).
    """
    x = jnp.zeros((length, 1)).at[0, 0].set(1.0)
    return model(x)[:, 0] / dt


def model_kernel(model, length: int, dt: float) -> Float[Array, " length"]:
    """The sampled kernel of a linear model: closed form for `LinearRNN`, impulse otherwise."""
    if isinstance(model, LinearRNN):
        return model.sampled_kernel(length)[:, 0, 0]
    return impulse_response(model, length, dt)


def stack(models: Sequence[eqx.Module]) -> eqx.Module:
    """Stack models of one structure into one model whose array leaves gain a leading axis."""
    arrays = [eqx.filter(m, eqx.is_array) for m in models]
    static = eqx.filter(models[0], eqx.is_array, inverse=True)
    return eqx.combine(jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *arrays), static)


def ensemble_kernels(models: eqx.Module, length: int, dt: float) -> Float[Array, "n length"]:
    """Kernels of a stacked ensemble (see `stack`)."""
    return eqx.filter_vmap(lambda m: model_kernel(m, length, dt))(models)


def fit_kernels(
    models: eqx.Module,
    targets: Float[Array, "n length"],
    dt: float,
    *,
    steps: int,
    key: PRNGKeyArray,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-2,
    log_every: int = 100,
    desc: str = "fit kernels",
) -> FitResult:
    """Train a stacked ensemble, member `i` on target kernel `i`, by the white-noise loss.

    The members are independent: the summed loss gives each its own gradient, and Adam and
    plain gradient descent act entry by entry, so this equals `n` separate runs of `core.fit`
    (vmapped into one). `history["aux"][step]` holds each member's loss.
    """
    targets = jnp.asarray(targets)
    length = targets.shape[1]

    def loss_fn(ms, rho):
        per_member = white_noise_loss(ensemble_kernels(ms, length, dt), rho, dt)
        return jnp.sum(per_member), per_member

    return fit(
        models,
        loss_fn,
        targets,
        steps=steps,
        key=key,
        optimizer=optimizer,
        learning_rate=learning_rate,
        log_every=log_every,
        has_aux=True,
        progress=False,
        desc=desc,
    )


def exp_sum_rnn(rho: np.ndarray, dt: float, width: int, *, key: PRNGKeyArray) -> LinearRNN:
    """A width-`m` linear RNN that is the least-squares exponential sum with fixed rates.

    Rates `λ_i` log-spaced inside `[1/(n dt), 2/dt]` (the time scales the grid resolves);
    `W = -diag(λ)`, `U = 1`, and `c` solves `min_c Σ_s (Σ_i c_i e^{-λ_i s dt} - ρ_s)²`.
    A good start for gradient training, and an upper bound on the best width-m error.
    """
    n = len(rho)
    # geometric cell centres of [1/(n dt), 2/dt]
    rates = np.exp(np.linspace(np.log(1.0 / (n * dt)), np.log(2.0 / dt), width + 2)[1:-1])
    basis = np.exp(-np.outer(np.arange(n) * dt, rates))
    c = np.linalg.lstsq(basis, np.asarray(rho, float), rcond=None)[0]
    model = LinearRNN(width, 1, 1, dt, key=key, rates=jnp.asarray(rates, jnp.float32), noise=0.0)
    model = eqx.tree_at(lambda m: m.U, model, jnp.ones((width, 1)))
    return eqx.tree_at(lambda m: m.c, model, jnp.asarray(c[None, :], jnp.float32))


def best_rnn_kernels(
    targets: Float[Array, "n length"],
    dt: float,
    width: int,
    *,
    steps: int,
    learning_rate: float,
    key: PRNGKeyArray,
) -> np.ndarray:
    """Kernels `(n, length)` of the best width-`m` linear RNN found for each target row.

    The better, in the white-noise loss, of the least-squares exponential sum (`exp_sum_rnn`)
    and that model trained further with Adam on all of `W, U, c`: an upper bound on the
    error of the true best width-`m` linear RNN.
    """
    targets = np.asarray(targets)
    keys = jax.random.split(key, len(targets))
    init = stack([exp_sum_rnn(rho, dt, width, key=k) for rho, k in zip(targets, keys, strict=True)])
    length = targets.shape[1]
    candidates = [np.asarray(ensemble_kernels(init, length, dt))]
    if steps > 0:
        opt = optax.adam(learning_rate)
        trained = fit_kernels(
            init, targets, dt, steps=steps, key=key, optimizer=opt, log_every=steps
        )
        candidates.append(np.asarray(ensemble_kernels(trained.model, length, dt)))
    losses = np.stack([relative_error(c, targets) for c in candidates])
    best = np.argmin(np.where(np.isfinite(losses), losses, np.inf), axis=0)
    return np.stack([candidates[b][i] for i, b in enumerate(best)])


def tt_singular_values(values: Float[Array, " n"]) -> list[np.ndarray]:
    """Singular values of the unfoldings `(2^k, 2^{K-k})`, `k = 1..K-1`, of `ρ` on `2^K` points.

    Index `s = Σ_j s_j 2^{K-j}` (the first tensor index is the most significant bit). These
    are the singular values that an exact TT-SVD produces at each bond.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    K = int(np.log2(n)) if n > 0 else 0
    if n < 2 or 2**K != n:
        raise ValueError(f"tt_singular_values needs a length 2^K >= 2, got {n}")
    return [
        np.linalg.svd(values.reshape(2**k, 2 ** (K - k)), compute_uv=False) for k in range(1, K)
    ]


def tt_ranks(values: Float[Array, " n"], rtol: float = 1e-3) -> list[int]:
    """Numerical TT ranks: singular values above `rtol` times the largest of each unfolding."""
    return [int(np.sum(s > rtol * s[0])) if s[0] > 0 else 0 for s in tt_singular_values(values)]
