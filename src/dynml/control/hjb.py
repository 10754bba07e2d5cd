"""A mean-field linear-quadratic control problem: Riccati (HJB), PMP/MSA and gradient solutions.

Population risk minimisation as mean-field control (E, Han, Li, Res. Math. Sci. 2019) in its
simplest solvable case: random initial states `x_0 ~ μ` (mean `m_0`, covariance `Σ_0`) share
one open-loop control `θ_t` (like network weights shared by all samples),

    x_{t+1} = A x_t + B θ_t,   J(θ) = E_μ[ Σ_{t<T} (x_tᵀQ x_t + θ_tᵀR θ_t) + x_TᵀQ_T x_T ].

Writing `x_t = m_t + ξ_t`, the fluctuation `ξ_t = A^t ξ_0` is uncontrolled and
`J = Σ_t (m_tᵀQ m_t + θ_tᵀRθ_t) + m_TᵀQ_T m_T + Σ_t tr(Q Σ_t) + tr(Q_T Σ_T)`. The value function
on measures is therefore quadratic in the mean, and its HJB equation is the Riccati recursion

    P_T = Q_T,  K_t = −(R + BᵀP_{t+1}B)⁻¹ BᵀP_{t+1}A,  P_t = Q + AᵀP_{t+1}(A + B K_t),

with the optimal control `θ*_t = K_t m*_t`. With `N` samples the empirical problem is the same
with the sample mean `m̂_0`, so `‖θ̂_N − θ*‖ = O(N^{-1/2})`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

from ..core.train import fit
from .msa import MSA, msa_fit


class MeanFieldLQ(eqx.Module):
    """The problem data `A (d,d), B (d,m), Q, R, Q_T` and the law of `x_0` (Gaussian)."""

    A: Float[Array, "d d"]
    B: Float[Array, "d m"]
    Q: Float[Array, "d d"]
    R: Float[Array, "m m"]
    QT: Float[Array, "d d"]
    mean0: Float[Array, " d"]
    cov0: Float[Array, "d d"]
    horizon: int = eqx.field(static=True)

    def sample(self, key, n: int) -> Float[Array, "n d"]:
        """`n` initial states `x_0 ~ N(m_0, Σ_0)`."""
        chol = jnp.linalg.cholesky(self.cov0)
        return self.mean0 + jax.random.normal(key, (n, self.mean0.size)) @ chol.T


def random_problem(
    key, dim: int = 3, control_dim: int = 2, horizon: int = 5, control_cost: float = 1.0
) -> MeanFieldLQ:
    """A random stable-ish instance: `A = I + 0.1 G`, `Q = I`, `R = control_cost·I`, `Q_T = I`."""
    if min(dim, control_dim, horizon) < 1:
        raise ValueError("dim, control_dim and horizon must be positive integers")
    ka, kb, km, kc = jax.random.split(key, 4)
    g = jax.random.normal(kc, (dim, dim)) / jnp.sqrt(dim)
    return MeanFieldLQ(
        A=jnp.eye(dim) + 0.1 * jax.random.normal(ka, (dim, dim)) / jnp.sqrt(dim),
        B=jax.random.normal(kb, (dim, control_dim)) / jnp.sqrt(dim),
        Q=jnp.eye(dim),
        R=control_cost * jnp.eye(control_dim),
        QT=jnp.eye(dim),
        mean0=1.0 + jax.random.normal(km, (dim,)),
        cov0=g @ g.T + 0.5 * jnp.eye(dim),
        horizon=horizon,
    )


def riccati_gains(prob: MeanFieldLQ) -> Float[Array, "T m d"]:
    """Feedback gains `K_t` of the Riccati (HJB) recursion, `t = 0..T-1`."""
    A, B, Q, R = prob.A, prob.B, prob.Q, prob.R

    def back(P, _):
        K = -jnp.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
        return Q + A.T @ P @ (A + B @ K), K

    _, gains = jax.lax.scan(back, prob.QT, None, prob.horizon, reverse=True)
    return gains


def riccati_control(prob: MeanFieldLQ, mean0: Array | None = None) -> Float[Array, "T m"]:
    """Optimal open-loop control `θ*_t = K_t m*_t` for initial mean `mean0` (default `m_0`)."""
    m0 = prob.mean0 if mean0 is None else mean0

    def fwd(m, K):
        theta = K @ m
        return prob.A @ m + prob.B @ theta, theta

    return jax.lax.scan(fwd, m0, riccati_gains(prob))[1]


def population_cost(prob: MeanFieldLQ, theta: Array, mean0=None, cov0=None) -> Array:
    """Exact `J(θ)` for initial mean/covariance (defaults: the population `m_0, Σ_0`)."""
    m0 = prob.mean0 if mean0 is None else mean0
    c0 = prob.cov0 if cov0 is None else cov0

    def fwd(carry, th):
        m, c = carry
        run = m @ prob.Q @ m + jnp.trace(prob.Q @ c) + th @ prob.R @ th
        return (prob.A @ m + prob.B @ th, prob.A @ c @ prob.A.T), run

    (m, c), running = jax.lax.scan(fwd, (m0, c0), theta)
    return running.sum() + m @ prob.QT @ m + jnp.trace(prob.QT @ c)


def empirical_cost(prob: MeanFieldLQ, theta: Array, x0: Float[Array, "N d"]) -> Array:
    """`Ĵ_N(θ)`: the cost averaged over the samples `x0`, by simulation."""
    return jnp.mean(terminal_cost(prob, forward_samples(prob, theta, x0)))


class LQStep(eqx.Module):
    """One time step on the state augmented with the running cost, `(x, c)`:
    `x ← A x + Bθ`, `c ← c + xᵀQx + θᵀRθ` (Mayer form, so `pmp` applies unchanged)."""

    theta: Float[Array, " m"]
    prob: MeanFieldLQ

    def __call__(self, xc: Float[Array, "S d1"]) -> Float[Array, "S d1"]:
        x, c = xc[:, :-1], xc[:, -1]
        p, th = self.prob, self.theta
        cost = jnp.einsum("si,ij,sj->s", x, p.Q, x) + th @ p.R @ th
        return jnp.concatenate([x @ p.A.T + p.B @ th, (c + cost)[:, None]], axis=1)


def lq_layers(prob: MeanFieldLQ, theta: Float[Array, "T m"]) -> tuple[LQStep, ...]:
    """The problem as `T` layers whose controls are the `θ_t`."""
    return tuple(LQStep(th, prob) for th in theta)


def lq_controls(layers: tuple[LQStep, ...]):
    """Filter spec selecting only the `θ_t` leaves (not the problem matrices)."""
    spec = jax.tree_util.tree_map(lambda _: False, layers)
    return eqx.tree_at(lambda ls: tuple(s.theta for s in ls), spec, replace=(True,) * len(layers))


def augment(x0: Float[Array, "N d"]) -> Float[Array, "N d1"]:
    """Initial augmented state `(x_0, c_0 = 0)`."""
    return jnp.concatenate([x0, jnp.zeros((x0.shape[0], 1))], axis=1)


def forward_samples(prob: MeanFieldLQ, theta, x0):
    """Augmented terminal states `(x_T, c_T)` of the samples."""
    xc = augment(x0)
    for layer in lq_layers(prob, theta):
        xc = layer(xc)
    return xc


def terminal_cost(prob: MeanFieldLQ, xc_T: Array, y: Array | None = None) -> Array:
    """`Φ(x_T, c_T) = c_T + x_TᵀQ_T x_T` per sample (`y` unused)."""
    x = xc_T[:, :-1]
    return xc_T[:, -1] + jnp.einsum("si,ij,sj->s", x, prob.QT, x)


def msa_control(prob: MeanFieldLQ, x0, *, iterations: int = 30, rho: float = 0.0, **inner):
    """Empirical optimum by MSA on the PMP of the sampled problem (full batch).

    `rho = 0` is the basic MSA; the Hamiltonian is concave quadratic in `θ_t`, so the inner
    L-BFGS solve is exact in a few steps. Returns `(θ (T, m), loss history)`.
    """
    theta0 = jnp.zeros((prob.horizon, prob.B.shape[1]))
    layers = lq_layers(prob, theta0)
    method = MSA(rho=rho, filter_spec=lq_controls(layers), **({"inner": "lbfgs"} | inner))
    term = jax.tree_util.Partial(terminal_cost, prob)  # arrays traced: msa_fit compiles once
    data = (augment(x0), jnp.zeros(x0.shape[0]))
    res = msa_fit(layers, term, data, method, steps=iterations, key=jax.random.key(0))
    return jnp.stack([layer.theta for layer in res.model]), res.history["loss"]


class _OpenLoop(eqx.Module):
    theta: Array


def gradient_control(prob: MeanFieldLQ, x0, *, steps: int = 2000, learning_rate=0.05, key=None):
    """Empirical optimum by plain gradient training (`core.fit`, Adam, full batch)."""
    model = _OpenLoop(jnp.zeros((prob.horizon, prob.B.shape[1])))
    loss = lambda m, x: empirical_cost(prob, m.theta, x)  # noqa: E731
    key = jax.random.key(0) if key is None else key
    res = fit(
        model,
        loss,
        x0,
        steps=steps,
        key=key,
        optimizer=optax.adam(learning_rate),
        log_every=steps,
        progress=False,
        desc="lq-gradient",
    )
    return res.model.theta, res.history["loss"]


class LQFeedbackStep(eqx.Module):
    """One step with a shared affine control `u = θ_t + K_t x` that acts on the spread:
    `x ← A x + B u`, `c ← c + xᵀQx + uᵀRu` (controls `θ_t (m,)` and `K_t (m, d)`).

    The per-sample LQR law `u = K*_t x` (Riccati gains, `θ = 0`) is optimal for every initial
    state, so it is the optimum of this mean-field problem for every law of `x_0`, the empirical
    one included (when the samples span the state space): the sampled optimum has no `N^{-1/2}`
    gap here, unlike the open-loop problem where only the mean is controlled.
    """

    theta: Float[Array, " m"]
    gain: Float[Array, "m d"]
    prob: MeanFieldLQ

    def __call__(self, xc: Float[Array, "S d1"]) -> Float[Array, "S d1"]:
        x, c = xc[:, :-1], xc[:, -1]
        p = self.prob
        u = self.theta + x @ self.gain.T
        cost = jnp.einsum("si,ij,sj->s", x, p.Q, x) + jnp.einsum("si,ij,sj->s", u, p.R, u)
        return jnp.concatenate([x @ p.A.T + u @ p.B.T, (c + cost)[:, None]], axis=1)


def feedback_layers(prob: MeanFieldLQ, theta: Array, gains: Array) -> tuple[LQFeedbackStep, ...]:
    """The problem as `T` layers with controls `(θ_t, K_t)`."""
    return tuple(LQFeedbackStep(th, k, prob) for th, k in zip(theta, gains, strict=True))


def feedback_cost(prob: MeanFieldLQ, theta: Array, gains: Array, x0: Float[Array, "N d"]):
    """`Ĵ_N(θ, K)`: the cost of the affine law averaged over the samples `x0`."""
    xc = augment(x0)
    for layer in feedback_layers(prob, theta, gains):
        xc = layer(xc)
    return jnp.mean(terminal_cost(prob, xc))


def msa_feedback_control(prob: MeanFieldLQ, x0, *, iterations: int = 100, rho: float = 1.0):
    """`(θ, K, loss history)` of E-MSA (full batch, L-BFGS inner) on the feedback problem."""
    m, d = prob.B.shape[1], prob.A.shape[0]
    layers = feedback_layers(prob, jnp.zeros((prob.horizon, m)), jnp.zeros((prob.horizon, m, d)))
    spec = jax.tree_util.tree_map(lambda _: False, layers)
    spec = eqx.tree_at(
        lambda ls: tuple(x for s in ls for x in (s.theta, s.gain)),
        spec,
        replace=(True,) * (2 * len(layers)),
    )
    method = MSA(rho=rho, filter_spec=spec, inner="lbfgs")
    term = jax.tree_util.Partial(terminal_cost, prob)  # arrays traced: msa_fit compiles once
    data = (augment(x0), jnp.zeros(x0.shape[0]))
    res = msa_fit(layers, term, data, method, steps=iterations, key=jax.random.key(0))
    theta = jnp.stack([s.theta for s in res.model])
    return theta, jnp.stack([s.gain for s in res.model]), res.history["loss"]


class _Feedback(eqx.Module):
    theta: Array
    gain: Array


def gradient_feedback_control(prob: MeanFieldLQ, x0, *, steps: int = 3000, learning_rate=0.02):
    """`(θ, K, loss history)` of plain gradient training (`core.fit`, Adam, full batch)."""
    m, d = prob.B.shape[1], prob.A.shape[0]
    model = _Feedback(jnp.zeros((prob.horizon, m)), jnp.zeros((prob.horizon, m, d)))
    loss = lambda mod, x: feedback_cost(prob, mod.theta, mod.gain, x)  # noqa: E731
    res = fit(
        model, loss, x0, steps=steps, key=jax.random.key(0), optimizer=optax.adam(learning_rate),
        log_every=steps, progress=False, desc="lq-feedback-gradient",
    )  # fmt: skip
    return res.model.theta, res.model.gain, res.history["loss"]


# Draws are made in blocks of at least this many samples, the first `n` rows used: every
# `n` up to it shares one compiled program for the draws and one for the empirical costs.
_MIN_BLOCK = 4096


def _block(n: int) -> int:
    """The number of rows drawn for `n` samples: `_MIN_BLOCK`, or the next power of two."""
    return max(_MIN_BLOCK, 1 << (n - 1).bit_length())


@eqx.filter_jit
def _draws(prob: MeanFieldLQ, keys, n, size: int):
    """Per key, `size` initial states `x_0 ~ μ` and the mean of the first `n` (traced):
    `(R, size, d)`, `(R, d)`.

    With JAX's partitionable Threefry (the default) the first `n` rows of
    `prob.sample(k, size)` are `prob.sample(k, n)`, so the statistics are those of the
    `n`-sample draw (a test checks this against `prob.sample(k, n)`)."""
    x0 = jax.vmap(lambda k: prob.sample(k, size))(keys)
    live = (jnp.arange(size) < n)[None, :, None]
    return x0, jnp.sum(jnp.where(live, x0, 0.0), axis=1) / n


@eqx.filter_jit
def _riccati_gaps(prob: MeanFieldLQ, means):
    """Per sample mean `m̂`: `θ̂ = riccati_control(m̂)`, `‖θ̂ − θ*‖²`, `J(θ̂) − J(θ*)`; and `J(θ*)`.

    Its shapes do not depend on the number of samples, so it compiles once for every `N`."""
    theta_star = riccati_control(prob)
    j_star = population_cost(prob, theta_star)
    thetas = jax.vmap(lambda m: riccati_control(prob, m))(means)
    excess = jax.vmap(lambda th: population_cost(prob, th))(thetas) - j_star
    return thetas, jnp.sum((thetas - theta_star) ** 2, axis=(1, 2)), excess, j_star


@eqx.filter_jit
def _value_gaps(prob: MeanFieldLQ, thetas, x0, n, j_star):
    """`abs(Ĵ_N(θ̂) − J(θ*))` per draw: the empirical cost, by simulation, of the first `n` rows."""

    def one(theta, x):
        cost = terminal_cost(prob, forward_samples(prob, theta, x))
        return jnp.abs(jnp.sum(jnp.where(jnp.arange(x.shape[0]) < n, cost, 0.0)) / n - j_star)

    return jax.vmap(one)(thetas, x0)


def sampling_gaps(prob: MeanFieldLQ, n: int, repeats: int, key) -> dict[str, float]:
    """Over `repeats` draws of `n` samples: RMS `‖θ̂_N − θ*‖`, mean excess population cost
    `J(θ̂_N) − J(θ*)` and mean value gap `|Ĵ_N(θ̂_N) − J(θ*)|`.

    Three compiled programs, shared by every `n` up to `_MIN_BLOCK` (`n` is traced): the
    draws, the Riccati solves with population costs, and the simulated empirical costs.
    """
    if n < 1 or repeats < 1:
        raise ValueError(f"n and repeats must be positive integers, got {n}, {repeats}")
    x0, means = _draws(prob, jax.random.split(key, repeats), jnp.asarray(n), _block(n))
    thetas, sq, excess, j_star = _riccati_gaps(prob, means)
    value = _value_gaps(prob, thetas, x0, jnp.asarray(n), j_star)
    return dict(
        N=n,
        theta_gap=float(jnp.sqrt(sq.mean())),
        excess_cost=float(excess.mean()),
        value_gap=float(value.mean()),
    )
