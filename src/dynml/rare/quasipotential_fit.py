"""`quasipotential(drift, x_star, ...)`: learn `U = 2(V − V(x*))` of any drift from trajectories.

Lin, Li & Ren (MSML 2021, arXiv 2012.09111): simulate short deterministic trajectories of
`ẋ = b(x)` from points drawn uniformly in a box, fit `b_θ = −∇V_θ + g_θ` to the one-step
pairs with `∇V_θ · g_θ ≈ 0`, and read off the quasipotential `U_θ = 2(V_θ − V_θ(x*))`. The
loss is normalised, `mean|Δx/Δt − b_θ(x̄)|² / mean|Δx/Δt|² + λ mean[w cos²(∇V_θ, g_θ)]`, so
`λ` weighs a relative field error against the orthogonality; training runs in float64
(inside `jax.enable_x64`, nothing global is changed) with Adam and a cosine-decayed step.
V's quadratic starts at `initial_quadratic_weight` (orthogonality in the mean on the data):
on the linear field U kept much of V's initial steepness (10 % off from `|x̃|²`, 1.8 % from
`|x̃|²/4` in a probe). With `field_warm_start = f > 0` the first `f · steps` steps fit the
field alone (`λ = 0`).
With the penalty on from the first step (`f = 0`, the default), a random stable linear field
settled where the cosines were small but the field was not fitted (field error 74 %, U 42 %
off); with `f = 0.1` it came out at 3.8 % (λ = 10) and 1.4 % (λ = 1), with `f = ⅓`, λ = 1
and 3,000 steps at 0.9 %. On the 3-D field the warm start hurt: at the full size (10,000
pairs, 3,000 steps) U was 3.7 % off with `f = 0` and 36 % with `f = 0.1`. A large
`field_error` of the returned fit is the sign to try it.
(Full-batch L-BFGS, tried on the 3-D field, fitted far worse: 44 % error of U after 1,000
iterations, 78 s CPU, against 12 % for 2,000 Adam steps, 32 s.)

V's Hessian at `x*` is anchored (`anchor_weight = 1`, not in the paper's loss) to the
Lyapunov value `Σ⁻¹/2` from the drift's Jacobian there, the boundary condition that picks
the quasipotential among the decompositions the penalty allows: on the 3-D field (10,000
pairs, 6,000 steps, seed 0, 50³ grid) U was 0.93 % off with it and 2.54 % without (U at
the saddle 0.968 against the exact 1). `anchor_weight = 0` is the paper's loss.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.domains import Domain
from ..core.solve import rk4_step
from ..core.train import fit
from .quasipotential import (
    DecomposedField,
    anchor_loss,
    field_decomposition_loss,
    initial_quadratic_weight,
    learned_quasipotential,
    midpoint_velocities,
    orthogonality_residual,
)
from .reference import lyapunov_quadratic


@dataclass(frozen=True)
class QuasipotentialSettings:
    """Data (`n_traj` trajectories of `n_t` points `dt` apart, RK4 with `substeps` per `dt`),
    network (`width` × `depth` tanh, `c_g = g_scale ·` RMS velocity component, `c_V = 1`) and
    training (Adam, cosine-decayed step size; the first `field_warm_start · steps` steps with
    λ = 0, then λ = `orthogonality_weight`; the weight of negative cosines `negative_weight`:
    0.1 in the authors' later code, 1 by default here).

    `data = "pairs"` (the paper) fits the midpoint velocities of the one-step pairs;
    `data = "drift"` fits the drift's values at the `n_traj · (n_t − 1)` points drawn
    uniformly in the box (no trajectories, no midpoint bias), for a drift known in closed
    form. `anchor_weight = μ > 0` adds `μ · anchor_loss`: V's Hessian at `x*` against the
    Lyapunov-equation value from the drift's Jacobian there (not in the paper's loss)."""

    n_traj: int = 1000
    n_t: int = 6
    dt: float = 0.01
    substeps: int = 4
    width: int = 50
    depth: int = 3
    steps: int = 2000
    learning_rate: float = 1e-2
    batch_size: int = 1000
    orthogonality_weight: float = 10.0
    negative_weight: float = 1.0
    g_scale: float = 0.5
    field_warm_start: float = field(default=0.0, metadata={"domain": Domain(low=0.0, high=1.0)})
    float64: bool = True
    data_quadratic: bool = True
    pointwise: float = 0.0
    data: str = field(default="pairs", metadata={"domain": Domain(choices=("pairs", "drift"))})
    anchor_weight: float = field(default=1.0, metadata={"domain": Domain(low=0.0)})


@dataclass
class QuasipotentialFit:
    """A fitted decomposition `model` with `x_star` and diagnostics on the training points.

    `field_error`: relative L2 error of `b_θ` against `Δx/Δt`; `rms_cos`: RMS of
    `cos(∇V_θ, g_θ)`; `history`: loss per step. Calling it evaluates `U_θ` at rows of `x`.
    """

    model: DecomposedField
    x_star: np.ndarray
    field_error: float
    rms_cos: float
    float64: bool
    history: list[float] = field(default_factory=list)

    def __call__(self, x: Float[Array, "n dim"], chunk: int = 20000) -> np.ndarray:
        with jax.enable_x64(self.float64):
            x = np.asarray(x)
            out = [
                np.asarray(
                    learned_quasipotential(self.model, jnp.asarray(x[i : i + chunk]), self.x_star)
                )
                for i in range(0, len(x), chunk)
            ]
        return np.concatenate(out)

    def orthogonality(self, x: Float[Array, "n dim"]) -> float:
        """RMS `cos(∇V_θ, g_θ)` at the rows of `x`."""
        with jax.enable_x64(self.float64):
            return float(
                jnp.sqrt(jnp.mean(orthogonality_residual(self.model, jnp.asarray(x)) ** 2))
            )


def trajectory_pairs(
    drift: Callable, box, settings: QuasipotentialSettings, key: PRNGKeyArray
) -> tuple[Float[Array, "n dim"], Float[Array, "n dim"]]:
    """Pairs `(x_k, x_{k+1})` of RK4 trajectories of `ẋ = b(x)` from uniform starts in `box`."""
    s = settings
    lo, hi = np.asarray(box, dtype=float).T
    x0 = jax.random.uniform(key, (s.n_traj, len(lo)), minval=lo, maxval=hi)
    h = s.dt / s.substeps
    field = jax.vmap(drift)

    def advance(y, _):
        y = jax.lax.fori_loop(0, s.substeps, lambda i, z: rk4_step(field, z, h), y)
        return y, y

    path = jax.jit(lambda y: jax.lax.scan(advance, y, None, length=s.n_t - 1)[1])(x0)
    xs = jnp.concatenate([x0[None], path])
    return xs[:-1].reshape(-1, len(lo)), xs[1:].reshape(-1, len(lo))


def _train(model, data, scale, s: QuasipotentialSettings, key, anchor=None):
    """Adam in two stages: the field alone (`λ = 0`) for `field_warm_start · steps` steps,
    then with the orthogonality penalty; each stage with its own cosine-decayed step size.
    `data = (x, v)`; `anchor = (x*, H)` adds `anchor_weight · anchor_loss`."""
    first = int(round(s.field_warm_start * s.steps))
    history: list[float] = []
    for i, (n, weight) in enumerate([(first, 0.0), (s.steps - first, s.orthogonality_weight)]):
        if n == 0:
            continue
        base = field_decomposition_loss(
            weight,
            scale=scale,
            negative_weight=s.negative_weight,
            floor=s.pointwise * scale if s.pointwise > 0 else None,
        )
        loss = base
        if anchor is not None:
            loss = lambda m, b, base=base: base(m, b) + s.anchor_weight * anchor_loss(m, *anchor)
        result = fit(
            model,
            loss,
            data,
            steps=n,
            key=jax.random.fold_in(key, i),
            learning_rate=optax.cosine_decay_schedule(s.learning_rate, n, alpha=0.01),
            batch_size=min(s.batch_size, data[0].shape[0]),
            log_every=max(1, n // 10),
            desc=f"quasipotential stage {i + 1}",
        )
        model = result.model
        history += result.history["loss"]
    return model, history


def quasipotential(
    drift: Callable[[Float[Array, " dim"]], Float[Array, " dim"]],
    x_star,
    *,
    box,
    key: PRNGKeyArray,
    settings: QuasipotentialSettings = QuasipotentialSettings(),
) -> QuasipotentialFit:
    """Learn the quasipotential of `dx = b(x) dt + √ε dW` from `x_star` (a stable point).

    `drift(x (dim,)) -> (dim,)` any JAX function; `box` `((lo, hi), ...)` per coordinate,
    where the trajectories start. Returns a `QuasipotentialFit`; `fit(x)` is `U_θ(x)`.
    """
    s = settings
    x_star = np.asarray(x_star, dtype=float)
    if np.shape(box) != (x_star.shape[0], 2):
        raise ValueError(f"box must give (lo, hi) for each of {x_star.shape[0]} coordinates")
    with jax.enable_x64(s.float64):
        k_data, k_init, k_fit = jax.random.split(key, 3)
        if s.data == "pairs":
            x, v = midpoint_velocities(*trajectory_pairs(drift, box, s, k_data), s.dt)
        elif s.data == "drift":
            lo, hi = np.asarray(box, dtype=float).T
            n = s.n_traj * (s.n_t - 1)
            x = jax.random.uniform(k_data, (n, len(lo)), minval=lo, maxval=hi)
            v = jax.vmap(drift)(x)
        else:
            raise ValueError(f"data must be 'pairs' or 'drift', got {s.data!r}")
        scale = float(jnp.mean(jnp.sum(v**2, -1)))
        mean, std = x.mean(0), x.std(0)
        model = DecomposedField(
            x_star.shape[0],
            key=k_init,
            mean=mean,
            scale=std,
            quadratic=initial_quadratic_weight(x, v, mean, std) if s.data_quadratic else 1.0,
            width=s.width,
            depth=s.depth,
            c_g=s.g_scale * float(jnp.sqrt(jnp.mean(v**2))),
        )
        anchor = None
        if s.anchor_weight > 0:
            star = jnp.asarray(x_star)
            target = lyapunov_quadratic(np.asarray(jax.jacfwd(drift)(star)))
            anchor = (star, jnp.asarray(target, star.dtype))
        model, history = _train(model, (x, v), scale, s, k_fit, anchor)
        b = jax.vmap(model)(x)
        field_error = float(jnp.linalg.norm(b - v) / jnp.linalg.norm(v))
        rms_cos = float(jnp.sqrt(jnp.mean(orthogonality_residual(model, x) ** 2)))
    return QuasipotentialFit(model, x_star, field_error, rms_cos, s.float64, history)
