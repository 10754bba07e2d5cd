"""`committor(potential, A, B, beta, ...)`: sample, reweight and train a neural committor.

The pipeline of Li, Lin & Ren (J. Chem. Phys. 151, 054112, 2019) for any JAX potential and
any regions given as level-set functions (`dynml.rare.regions`):

1. sample `e^{−βV}` with MALA chains at a raised temperature `β′ < β` (weights
   `w ∝ e^{−(β − β′)V}`) or under a frozen metadynamics bias `V_b` (weights `w ∝ e^{βV_b}`);
2. minimise the reweighted Dirichlet energy `mean(w|∇q|²)` over the built-in-BC ansatz
   `q = (1 − χ_A)[(1 − χ_B) q̃_θ + χ_B]` (Adam, cosine-decayed step size), optionally after a
   warm start with unit weights (the committor at `β′`);
3. report the rate `ν_AB = β⁻¹ Σw|∇q|²/Σw` and the effective sample size `(Σw)²/Σw²`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from ..core.train import fit
from .committor import (
    NeuralCommittor,
    committor_rate,
    committor_rate_stderr,
    committor_values,
    variational_loss,
)
from .regions import Region
from .sampling import langevin_chains, metadynamics_bias, metadynamics_weights, temperature_weights

SCHEMES = ("temperature", "metadynamics")


@dataclass(frozen=True)
class SamplingSettings:
    """How `committor` samples: `scheme`, MALA chains and the bias of each scheme.

    `n_chains` chains (started at the rows of `starts`, cycled) run `burn_in` steps of size
    `dt`, then keep `n_samples` states `thin` steps apart. `temperature`: chains at
    `beta_sample`. `metadynamics`: a tenth of the chains first deposit `meta_deposits`
    Gaussians (height, width) every `meta_stride` steps in the first `n_cv` coordinates.
    """

    scheme: str = "temperature"
    n_chains: int = 100
    n_samples: int = 200
    thin: int = 100
    burn_in: int = 2000
    dt: float = 1e-4
    beta_sample: float | None = None
    meta_deposits: int = 200
    meta_stride: int = 200
    meta_height: float = 5.0
    meta_width: float = 0.1
    n_cv: int = 2

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown sampling scheme {self.scheme!r}; choose one of {SCHEMES}")


@dataclass(frozen=True)
class TrainingSettings:
    """The network (`width` × `depth` tanh MLP, indicator `collar`) and its Adam schedule."""

    width: int = 32
    depth: int = 3
    collar: float = 0.05
    steps: int = 2000
    learning_rate: float = 1e-2
    batch_size: int = 1000
    warm_start: float = 0.5


@dataclass
class CommittorFit:
    """A fitted committor: `model`, its samples `x` and weights `w`, and diagnostics.

    `rate` is `ν_AB` from the reweighted samples and `rate_stderr` its standard error (batch
    means over the chains), `ess` the effective sample size `(Σw)²/Σw²`, `history` the loss
    per step. The network was fitted to these samples, so `rate` is biased low where they
    are thin (an overfit); measure it on fresh samples for an unbiased estimate. Calling it evaluates `q` at rows of `x`.
    """

    model: NeuralCommittor
    x: Float[Array, "n dim"]
    w: Float[Array, " n"]
    rate: float
    ess: float
    history: list[float] = field(default_factory=list)
    rate_stderr: float = float("nan")

    def __call__(self, x: Float[Array, "m dim"]) -> Float[Array, " m"]:
        return committor_values(self.model, x)


def reweighted_samples(
    potential: Callable,
    starts: Float[Array, "k dim"],
    *,
    beta: float,
    settings: SamplingSettings,
    key: PRNGKeyArray,
    keep: Callable | None = None,
    heated: Callable | None = None,
) -> tuple[Float[Array, "n dim"], Float[Array, " n"]]:
    """Samples `x` and weights `w` (mean one) for `e^{−βV}` by the scheme of `settings`.

    `keep(x (n, dim)) -> bool (n,)` drops samples (outside a box, say) before weighting.
    `heated`: with the temperature scheme, only this part `V_h` of `V` is sampled at `β′`
    (density `∝ e^{−βV + (β − β′)V_h}`, weights `∝ e^{−(β − β′)V_h}`), so stiff coordinates
    outside the collective variables stay at `β` and do not dilute the weights.
    """
    s = settings
    x0 = jnp.asarray(starts)[jnp.arange(s.n_chains) % len(starts)]
    k_bias, k_run = jax.random.split(key)
    chain = dict(dt=s.dt, n_samples=s.n_samples, thin=s.thin, burn_in=s.burn_in, metropolis=True)
    if s.scheme == "temperature":
        beta_sample = beta / 3 if s.beta_sample is None else s.beta_sample
        if heated is None:
            x = langevin_chains(potential, x0, beta=beta_sample, key=k_run, **chain)
        else:
            cool = 1 - beta_sample / beta
            x = langevin_chains(
                lambda y: potential(y) - cool * heated(y), x0, beta=beta, key=k_run, **chain
            )
    else:
        bias, _ = metadynamics_bias(
            potential,
            x0[:: max(1, s.n_chains // 10)],
            beta=beta,
            dt=s.dt,
            n_deposits=s.meta_deposits,
            stride=s.meta_stride,
            height=s.meta_height,
            width=s.meta_width,
            key=k_bias,
            n_cv=s.n_cv,
        )
        x = langevin_chains(lambda y: potential(y) + bias(y), x0, beta=beta, key=k_run, **chain)
    x = x.reshape(-1, x.shape[-1])
    if keep is not None:
        x = x[np.asarray(keep(x), dtype=bool)]
    if s.scheme == "temperature":
        v = jax.vmap(potential if heated is None else heated)(x)
        return x, temperature_weights(v, beta=beta, beta_sample=beta_sample)
    return x, metadynamics_weights(bias, x, beta=beta)


def train_committor(
    model: NeuralCommittor,
    x: Float[Array, "n dim"],
    w: Float[Array, " n"],
    *,
    settings: TrainingSettings,
    key: PRNGKeyArray,
) -> tuple[NeuralCommittor, list[float]]:
    """Minimise `mean(w|∇q|²)` with Adam and a cosine-decayed step size.

    With `warm_start = f > 0` the first `f·steps` steps use unit weights (the committor at
    the sampling temperature, whose transition is spread over both saddles of the Müller
    potential); this continuation in temperature keeps the network out of the local minimum
    that puts the jump at the wrong saddle. Returns the model and the loss of every step.
    """
    t = settings
    first = int(round(t.warm_start * t.steps))
    history: list[float] = []
    for i, (n, weights) in enumerate([(first, jnp.ones_like(w)), (t.steps - first, w)]):
        if n == 0:
            continue
        result = fit(
            model,
            variational_loss,
            (x, weights),
            steps=n,
            key=jax.random.fold_in(key, i),
            learning_rate=optax.cosine_decay_schedule(t.learning_rate, n, alpha=0.01),
            batch_size=min(t.batch_size, x.shape[0]),
            log_every=max(1, n // 10),
            desc=f"committor stage {i + 1}",
        )
        model = result.model
        history += result.history["loss"]
    return model, history


def committor(
    potential: Callable[[Float[Array, " dim"]], Float[Array, ""]],
    A: Region,
    B: Region,
    beta: float,
    *,
    starts: Float[Array, "k dim"],
    key: PRNGKeyArray,
    sampling: SamplingSettings = SamplingSettings(),
    training: TrainingSettings = TrainingSettings(),
    keep: Callable[[Float[Array, "n dim"]], Bool[Array, " n"]] | None = None,
    heated: Callable[[Float[Array, " dim"]], Float[Array, ""]] | None = None,
) -> CommittorFit:
    """Fit the committor from A to B of `dx = −∇V dt + √(2/β) dW`.

    `potential(x (dim,)) -> V`; `A`, `B` level-set functions `x -> d(x)` (`≤ 0` inside, e.g.
    `dynml.rare.disc(center, radius)`); `starts` initial states of the chains (points in A
    and B, say); `keep` an optional filter of samples; `heated` the part of `V` that the
    temperature scheme heats (default all of it; see `reweighted_samples`). Returns a `CommittorFit` with the
    model, samples, weights, rate `ν_AB` and effective sample size.
    """
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    starts = jnp.atleast_2d(jnp.asarray(starts))
    k_sample, k_init, k_fit = jax.random.split(key, 3)
    x, w = reweighted_samples(
        potential, starts, beta=beta, settings=sampling, key=k_sample, keep=keep, heated=heated
    )
    if x.shape[0] < 2:
        raise ValueError(f"only {x.shape[0]} samples were kept; widen `keep` or sample more")
    t = training
    model = NeuralCommittor(
        starts.shape[-1], A, B, key=k_init, width=t.width, depth=t.depth, collar=t.collar
    )
    model, history = train_committor(model, x, w, settings=t, key=k_fit)
    rate = float(committor_rate(model, x, w, beta=beta))
    stderr = float(committor_rate_stderr(model, x, w, beta=beta, blocks=sampling.n_chains))
    ess = float(jnp.sum(w) ** 2 / jnp.sum(w**2))
    return CommittorFit(model, x, w, rate, ess, history, stderr)
