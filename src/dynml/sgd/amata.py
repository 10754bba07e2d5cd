"""Adversarial training with an annealed inner PGD (Amata: Ye, Li, Zhou, Zhu, AAAI 2021).

Adversarial training (Madry et al., ICLR 2018) minimises `E max_{‖δ‖∞ ≤ ε} ℓ(f_θ(x + δ), y)`;
each step runs `K` PGD steps of size `α` for the inner maximisation, then one weight gradient,
so a step costs `K + 1` gradient evaluations. Amata anneals the inner solver: few PGD steps
with a large step size early in training (a rough maximiser is enough while the network is
far from robust), many small steps late (an accurate one is needed near the end).

The paper's exact schedule is not public; ours (`AmataSchedule`) is

    K(s) = round(K₀ + (K₁ − K₀) (s/S)^q),   α(s) = min(1, a/K(s)) · ε,   s = 0..S−1,

a power ramp from `K₀` to `K₁` steps and a step size that keeps the PGD path length `K α`
at `a ε` (`a = 2.5`, the usual PGD setting `α = 2.5ε/K`, so the last phase *is* PGD-`K₁`
training) and never exceeds `ε`. With `q = 2` the mean number of steps is about
`K₀ + (K₁ − K₀)/3`: for `K₀ = 1`, `K₁ = 10` a training run costs about 0.45 of PGD-10's
gradient evaluations, the paper's range of 1/3 to 1/2. `K₀ = K₁ = K` is PGD-`K` training;
`K₁ = 0` is natural training.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..control.attacks import cross_entropy, sign_ascent
from ..core.train import FitResult


@dataclass(frozen=True)
class AmataSchedule:
    """Inner PGD steps `K(s)` and step size `α(s)/ε` over `S` training steps (see module doc)."""

    k_start: int = 1
    k_end: int = 10
    power: float = 2.0
    path: float = 2.5

    def __post_init__(self):
        if not (0 <= self.k_start and 0 <= self.k_end) or self.power <= 0 or self.path <= 0:
            raise ValueError("AmataSchedule needs k_start, k_end >= 0 and power, path > 0")
        if self.k_start == 0 and self.k_end > 0:
            raise ValueError("AmataSchedule: k_start = 0 (natural steps) only with k_end = 0")

    def steps(self, total: int) -> Int[np.ndarray, " S"]:
        """`K(s)` for `s = 0..total−1`: non-decreasing if `k_end ≥ k_start`, ends at `k_end`."""
        frac = np.arange(total) / max(total - 1, 1)
        k = self.k_start + (self.k_end - self.k_start) * frac**self.power
        return np.rint(k).astype(np.int32)

    def step_sizes(self, total: int) -> Float[np.ndarray, " S"]:
        """`α(s)/ε = min(1, path/K(s))` (0 where `K = 0`)."""
        k = self.steps(total)
        return np.where(k > 0, np.minimum(1.0, self.path / np.maximum(k, 1)), 0.0)

    def gradient_evaluations(self, total: int) -> int:
        """`Σ_s (K(s) + 1)`: input gradients of the attack plus one weight gradient per step."""
        return int(np.sum(self.steps(total) + 1))


def pgd_schedule(k: int, path: float = 2.5) -> AmataSchedule:
    """PGD-`k` adversarial training: `k` steps of `α = min(1, path/k) ε` throughout."""
    return AmataSchedule(k, k, 1.0, path)


def natural_schedule() -> AmataSchedule:
    """Natural training (no inner maximisation): one gradient evaluation per step."""
    return AmataSchedule(0, 0)


def adversarial_train(
    model,
    apply: Callable[[object, Array], Array],
    data: tuple,
    schedule: AmataSchedule,
    *,
    eps: float,
    steps: int,
    key: PRNGKeyArray,
    optimizer: optax.GradientTransformation,
    batch_size: int = 128,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> FitResult:
    """Train `model` (logits `apply(model, x)`) on PGD examples whose steps follow `schedule`.

    One jitted `lax.scan` over training steps; the inner PGD is a `while` loop of the step's
    traced `K(s)`, from a uniform random start in the ε-ball, so a step costs what its `K`
    says. `history` holds the clean mini-batch loss of the adversarial examples, the schedule,
    the gradient evaluations and the CPU seconds of the loop (compilation excluded).
    """
    if steps < 1 or batch_size < 1 or eps < 0:
        raise ValueError("adversarial_train needs steps >= 1, batch_size >= 1 and eps >= 0")
    x, y = (jnp.asarray(a) for a in data)
    n = x.shape[0]
    bsz = min(batch_size, n)
    per_epoch = n // bsz
    ks = jnp.asarray(schedule.steps(steps))
    alphas = jnp.asarray(schedule.step_sizes(steps) * eps, jnp.float32)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    key_perm, key_start = jax.random.split(key)

    def loss(p, xb, yb):
        return jnp.mean(cross_entropy(apply(eqx.combine(p, static), xb), yb))

    def step(carry, inputs):
        p, s = carry
        i, k, alpha = inputs
        k_start = jax.random.fold_in(key_start, i)
        perm = jax.random.permutation(jax.random.fold_in(key_perm, i // per_epoch), n)
        idx = jax.lax.dynamic_slice_in_dim(perm, (i % per_epoch) * bsz, bsz)
        xb, yb = x[idx], y[idx]
        net = eqx.combine(jax.lax.stop_gradient(p), static)
        radius = jnp.where(k > 0, eps, 0.0)
        start = xb + radius * jax.random.uniform(k_start, xb.shape, minval=-1.0, maxval=1.0)
        xa = sign_ascent(lambda z: apply(net, z), xb, yb, start, radius, alpha, k, bounds=bounds)
        value, grad = jax.value_and_grad(loss)(p, jax.lax.stop_gradient(xa), yb)
        updates, s = optimizer.update(grad, s, p)
        return (optax.apply_updates(p, updates), s), value

    state = optimizer.init(params)
    run = jax.jit(lambda p, s: jax.lax.scan(step, (p, s), (jnp.arange(steps), ks, alphas)))
    compiled = run.lower(params, state).compile()
    start = time.process_time()
    (params, _), losses = jax.block_until_ready(compiled(params, state))
    seconds = time.process_time() - start
    history = {
        "loss": np.asarray(losses).tolist(),
        "inner_steps": np.asarray(ks).tolist(),
        "gradient_evaluations": schedule.gradient_evaluations(steps),
        "cpu_seconds": seconds,
    }
    bad = not np.all(np.isfinite(losses))
    return FitResult(eqx.combine(params, static), history, steps, "nan" if bad else "completed")
