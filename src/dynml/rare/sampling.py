"""Sampling the Boltzmann density `∝ e^{−βV}`: overdamped Langevin chains and biased sampling.

Overdamped Langevin `dx = −∇V dt + √(2/β) dW` by Euler–Maruyama, one chain per row, vmapped
and jit-compiled (a `lax.scan` over steps). Transition regions are rarely visited at the
physical temperature, so two biased schemes with likelihood-ratio weights are provided
(Li, Lin & Ren, J. Chem. Phys. 151, 054112, 2019):

- raised temperature `β′ < β`: samples of `e^{−β′V}`, weights `w ∝ e^{−(β − β′)V}`;
- metadynamics: a bias `V_b` of Gaussians deposited along the chains in collective
  variables (Laio & Parrinello 2002) is grown, then frozen; samples of `e^{−β(V + V_b)}`
  get weights `w ∝ e^{βV_b}`.

Weights are normalised to mean one, so `mean(w f(x))` estimates `E_{e^{−βV}}[f]`.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

Potential = Callable[[Float[Array, " dim"]], Float[Array, ""]]


def _check(beta: float, dt: float) -> None:
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    if dt <= 0:
        raise ValueError(f"time step dt must be positive, got {dt}")


def _em_step(potential: Potential, beta: float, dt: float, metropolis: bool = False):
    """One Euler–Maruyama step `y = x − ∇V(x) dt + √(2 dt/β) ξ` of a single chain.

    With `metropolis`, `y` is accepted with probability
    `min(1, e^{−βV(y)} k(y→x) / (e^{−βV(x)} k(x→y)))` (MALA, Roberts & Tweedie 1996), which
    removes the O(dt) bias of the Euler–Maruyama chain.
    """
    energy_and_grad = jax.value_and_grad(potential)
    noise = jnp.sqrt(2 * dt / beta)

    def proposal(x, key):
        v, g = energy_and_grad(x)
        return x - dt * g + noise * jax.random.normal(key, x.shape, x.dtype), v, g

    if not metropolis:
        return lambda x, key: proposal(x, key)[0]

    def log_kernel(to, frm, grad_frm):
        return -jnp.sum((to - frm + dt * grad_frm) ** 2) / (2 * noise**2)

    def step(x, key):
        k_move, k_accept = jax.random.split(key)
        y, vx, gx = proposal(x, k_move)
        vy, gy = energy_and_grad(y)
        log_ratio = -beta * (vy - vx) + log_kernel(x, y, gy) - log_kernel(y, x, gx)
        accept = jnp.log(jax.random.uniform(k_accept)) < log_ratio
        return jnp.where(accept, y, x)

    return step


def _advance(step, x, key, n: int):
    """`n` steps of one chain; returns the final state."""
    keys = jax.random.split(key, n)
    return jax.lax.scan(lambda y, k: (step(y, k), None), x, keys)[0]


def langevin_chains(
    potential: Potential,
    x0: Float[Array, "chains dim"],
    *,
    beta: float,
    dt: float,
    n_samples: int,
    key: PRNGKeyArray,
    thin: int = 1,
    burn_in: int = 0,
    metropolis: bool = False,
) -> Float[Array, "chains n_samples dim"]:
    """Run one overdamped Langevin chain per row of `x0` and keep every `thin`-th state.

    `potential(x (dim,)) -> scalar`. After `burn_in` steps, `n_samples` states are saved,
    `thin` steps apart. Chains are vmapped and the whole run is one jitted scan.
    `metropolis=True` adds the MALA accept/reject step (unbiased in `dt`).
    """
    _check(beta, dt)
    if n_samples < 1 or thin < 1 or burn_in < 0:
        raise ValueError(
            f"need n_samples, thin >= 1 and burn_in >= 0, got {n_samples, thin, burn_in}"
        )
    step = _em_step(potential, beta, dt, metropolis)

    def chain(x, k):
        k_burn, k_run = jax.random.split(k)
        x = _advance(step, x, k_burn, burn_in) if burn_in else x

        def save(y, kk):
            y = _advance(step, y, kk, thin)
            return y, y

        return jax.lax.scan(save, x, jax.random.split(k_run, n_samples))[1]

    x0 = jnp.asarray(x0)
    keys = jax.random.split(key, x0.shape[0])
    return jax.jit(jax.vmap(chain))(x0, keys)


def _normalised(log_w: Float[Array, " n"]) -> Float[Array, " n"]:
    return jnp.exp(log_w - jax.nn.logsumexp(log_w)) * log_w.shape[0]


def temperature_weights(
    potential_values: Float[Array, " n"], *, beta: float, beta_sample: float
) -> Float[Array, " n"]:
    """Likelihood ratio of `e^{−βV}` to `e^{−β′V}`: `w ∝ e^{−(β − β′)V}`, mean one."""
    v = jnp.asarray(potential_values)
    return _normalised(-(beta - beta_sample) * v)


class GaussianBias(eqx.Module):
    """Metadynamics bias `V_b(x) = Σ_k h exp(−|s(x) − c_k|² / (2w²))`, `s(x) = x[:n_cv]`.

    Only the first `count` rows of `centers` are deposited Gaussians.
    """

    centers: Float[Array, "capacity n_cv"]
    count: Array
    height: float
    width: float

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, ""]:
        s = x[: self.centers.shape[1]]
        r2 = jnp.sum((s - self.centers) ** 2, axis=-1)
        live = jnp.arange(self.centers.shape[0]) < self.count
        return self.height * jnp.sum(jnp.where(live, jnp.exp(-r2 / (2 * self.width**2)), 0.0))


def metadynamics_bias(
    potential: Potential,
    x0: Float[Array, "walkers dim"],
    *,
    beta: float,
    dt: float,
    n_deposits: int,
    stride: int,
    height: float,
    width: float,
    key: PRNGKeyArray,
    n_cv: int = 2,
) -> tuple[GaussianBias, Float[Array, "walkers dim"]]:
    """Grow a shared metadynamics bias with several walkers (multiple-walker metadynamics).

    Every `stride` steps each walker deposits a Gaussian of `height` and `width` at its
    collective variables `x[:n_cv]`; walkers feel `V + V_b`. Returns the bias and the
    walkers' final states.
    """
    _check(beta, dt)
    if n_deposits < 1 or stride < 1 or height <= 0 or width <= 0:
        raise ValueError("need n_deposits, stride >= 1 and positive height and width")
    x0 = jnp.asarray(x0)
    walkers = x0.shape[0]
    empty = GaussianBias(
        jnp.zeros((n_deposits * walkers, n_cv), x0.dtype), jnp.array(0), height, width
    )

    def deposit(carry, k):
        bias, xs = carry
        step = _em_step(lambda x: potential(x) + bias(x), beta, dt)
        xs = jax.vmap(lambda x, kk: _advance(step, x, kk, stride))(xs, jax.random.split(k, walkers))
        centers = jax.lax.dynamic_update_slice_in_dim(bias.centers, xs[:, :n_cv], bias.count, 0)
        return (GaussianBias(centers, bias.count + walkers, height, width), xs), None

    run = jax.jit(lambda b, xs, keys: jax.lax.scan(deposit, (b, xs), keys)[0])
    return run(empty, x0, jax.random.split(key, n_deposits))


def metadynamics_weights(
    bias: GaussianBias, samples: Float[Array, "n dim"], *, beta: float
) -> Float[Array, " n"]:
    """Likelihood ratio of `e^{−βV}` to `e^{−β(V + V_b)}`: `w ∝ e^{βV_b}`, mean one."""
    return _normalised(beta * jax.vmap(bias)(jnp.asarray(samples)))
