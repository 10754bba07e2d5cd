"""The committor benchmark pipeline shared by the Müller experiments (2-D and 10-D).

Sample (raised temperature or metadynamics, both reweighted to `e^{−βV}`), train a
`NeuralCommittor` with `core.fit` on the variational loss, and measure it against a
`GridCommittor`: RMSE, MAE and relative L2 on the grid nodes with `V − V_min < cut` and on
the transition region `|q − 0.5| < 0.2` (Li, Lin & Ren 2019), and the rate `ν_AB`.
"""

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core.train import FitResult, fit
from .committor import NeuralCommittor, committor_rate, committor_values, variational_loss
from .reference import GridCommittor
from .sampling import (
    langevin_chains,
    metadynamics_bias,
    metadynamics_weights,
    temperature_weights,
)

SCHEMES = ("temperature", "metadynamics")


@dataclass(frozen=True)
class SamplingSettings:
    """Chains, steps and bias settings for `reweighted_samples`."""

    n_chains: int = 100
    n_samples: int = 200
    thin: int = 100
    burn_in: int = 2000
    dt: float = 1e-4
    beta_sample: float = 0.05
    meta_deposits: int = 200
    meta_stride: int = 200
    meta_height: float = 5.0
    meta_width: float = 0.1


def reweighted_samples(
    potential: Callable,
    starts: jax.Array,
    box,
    *,
    scheme: str,
    beta: float,
    settings: SamplingSettings,
    key: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Samples `x` inside `box` (first two coordinates) and weights `w` (mean one) for `e^{−βV}`.

    Chains start at the rows of `starts`, cycled to `settings.n_chains`; MALA steps.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown sampling scheme {scheme!r}; choose one of {SCHEMES}")
    s = settings
    x0 = jnp.asarray(starts)[jnp.arange(s.n_chains) % len(starts)]
    k_bias, k_run = jax.random.split(key)
    chain = dict(dt=s.dt, n_samples=s.n_samples, thin=s.thin, burn_in=s.burn_in, metropolis=True)
    if scheme == "temperature":
        x = langevin_chains(potential, x0, beta=s.beta_sample, key=k_run, **chain)
    else:
        walkers = x0[:: max(1, s.n_chains // 10)]
        bias, _ = metadynamics_bias(
            potential,
            walkers,
            beta=beta,
            dt=s.dt,
            n_deposits=s.meta_deposits,
            stride=s.meta_stride,
            height=s.meta_height,
            width=s.meta_width,
            key=k_bias,
        )
        x = langevin_chains(lambda y: potential(y) + bias(y), x0, beta=beta, key=k_run, **chain)
    x = x.reshape(-1, x.shape[-1])
    (x_lo, x_hi), (y_lo, y_hi) = box
    inside = (x[:, 0] >= x_lo) & (x[:, 0] <= x_hi) & (x[:, 1] >= y_lo) & (x[:, 1] <= y_hi)
    x = x[np.asarray(inside)]
    if scheme == "temperature":
        w = temperature_weights(jax.vmap(potential)(x), beta=beta, beta_sample=s.beta_sample)
    else:
        w = metadynamics_weights(bias, x, beta=beta)
    return x, w


def train_committor(
    model: NeuralCommittor,
    x: jax.Array,
    w: jax.Array,
    *,
    steps: int,
    learning_rate: float,
    batch_size: int,
    key: jax.Array,
    warm_start: float = 0.0,
) -> FitResult:
    """Minimise the reweighted variational loss with Adam and a cosine-decayed step size.

    With `warm_start = f > 0` the first `f·steps` steps use unit weights (the committor at
    the sampling temperature, whose transition is spread over both saddles); this continuation
    in temperature keeps the network out of the local minimum that puts the jump at the
    wrong saddle. The returned history concatenates both stages.
    """
    first = int(round(warm_start * steps))
    stages = [(first, jnp.ones_like(w)), (steps - first, w)]
    history: list[float] = []
    result = None
    for i, (n, weights) in enumerate(stages):
        if n == 0:
            continue
        result = fit(
            model,
            variational_loss,
            (x, weights),
            steps=n,
            key=jax.random.fold_in(key, i),
            learning_rate=optax.cosine_decay_schedule(learning_rate, n, alpha=0.01),
            batch_size=batch_size,
            log_every=max(1, n // 10),
            desc=f"committor stage {i + 1}",
        )
        model = result.model
        history += result.history["loss"]
    result.history["loss"] = history
    return result


def error_rows(q: np.ndarray, q_ref: np.ndarray, regions: dict[str, np.ndarray]) -> list[dict]:
    """RMSE, MAE and relative L2 of `q` against `q_ref` on each boolean region."""
    rows = []
    for name, mask in regions.items():
        d = q[mask] - q_ref[mask]
        rows.append(
            dict(
                region=name,
                points=int(mask.sum()),
                rmse=float(np.sqrt(np.mean(d**2))),
                mae=float(np.mean(np.abs(d))),
                rel_l2=float(np.linalg.norm(d) / np.linalg.norm(q_ref[mask])),
            )
        )
    return rows


def evaluation_regions(reference: GridCommittor, energy_cut: float) -> dict[str, np.ndarray]:
    """Grid nodes outside A ∪ B: `cut` (`V − V_min < cut`), `transition` (`|q − 0.5| < 0.2`
    within the cut) and `transition_box` (`|q − 0.5| < 0.2` anywhere in the box, including
    energies no sampler visits, where the network is unconstrained)."""
    free = ~(reference.in_a | reference.in_b)
    v = reference.potential
    low = free & (v - v.min() < energy_cut)
    middle = np.abs(reference.q - 0.5) < 0.2
    return {"cut": low, "transition": low & middle, "transition_box": free & middle}


def grid_rate(model: NeuralCommittor, reference: GridCommittor, points: jax.Array) -> float:
    """`ν_AB` of the network by quadrature on the reference grid: `β⁻¹ Σ e^{−βV}|∇q|² / Σ e^{−βV}`."""
    boltzmann = np.exp(-reference.beta * (reference.potential - reference.potential.min()))
    w = jnp.asarray((boltzmann / boltzmann.mean()).ravel(), jnp.float32)
    return float(committor_rate(model, points, w, beta=reference.beta))


def network_on_grid(model: NeuralCommittor, points: jax.Array, shape) -> np.ndarray:
    """`q_θ` at `points` reshaped to the grid `shape`."""
    return np.asarray(committor_values(model, points)).reshape(shape)
