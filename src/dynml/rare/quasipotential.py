"""Learning the quasipotential from trajectory data (Lin, Li & Ren, MSML 2021, arXiv 2012.09111).

For `dx = b(x) dt + √ε dW`, write `b = −∇V + g` with `∇V · g = 0`; then
`U = 2(V − V(x*))` solves `b·∇U + ½|∇U|² = 0` and is the quasipotential from the stable
point `x*`. The model `V_θ = c_V[NN(x̃) + |x̃|²]`, `g_θ = c_g NN(x̃)` (`x̃` the standardised
state) is trained on pairs `(x_n, x_{n+1})` with the midpoint one-step loss
`|(x_{n+1} − x_n)/Δt − b_θ((x_n + x_{n+1})/2)|²` plus `λ` times the orthogonality loss
`mean[w (∇V·g)² / (|∇V|²|g|²)]`, `w = 1` where `∇V·g > 0` and `0.1` elsewhere (`λ = 10`).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.nn import MLP


class DecomposedField(eqx.Module):
    """`b_θ = −∇V_θ + g_θ` with `V_θ = c_V[NN(x̃) + e^{a}|x̃|²]`, `g_θ = c_g NN(x̃)`, `x̃ = (x − m)/s`.

    The log-weight `a` of the coercive quadratic is learned, initially `log quadratic`
    (`quadratic = 1` is the authors' `|x̃|²`; `initial_quadratic_weight` picks it from data).
    With the weight fixed at 1, U of a linear test field on `[−1, 1]²` came out about 4× too
    steep; `|x̃|²` alone is there about 3× the true `V`, which the network must cancel.
    """

    v_net: MLP
    g_net: MLP
    log_quadratic: Float[Array, ""]
    mean: Float[Array, " dim"]
    scale: Float[Array, " dim"]
    c_v: float = eqx.field(static=True)
    c_g: float = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        *,
        key: PRNGKeyArray,
        mean=None,
        scale=None,
        width: int = 50,
        depth: int = 3,
        activation: str = "tanh",
        c_v: float = 1.0,
        c_g: float = 1.0,
        quadratic: float = 1.0,
    ):
        kv, kg = jax.random.split(key)
        self.v_net = MLP(dim, 1, width, depth, activation, key=kv)
        self.g_net = MLP(dim, dim, width, depth, activation, key=kg)
        self.log_quadratic = jnp.log(jnp.asarray(quadratic))
        self.mean = jnp.zeros(dim) if mean is None else jnp.asarray(mean)
        self.scale = jnp.ones(dim) if scale is None else jnp.asarray(scale)
        self.c_v, self.c_g = c_v, c_g

    def _standard(self, x):
        return (x - jax.lax.stop_gradient(self.mean)) / jax.lax.stop_gradient(self.scale)

    def potential(self, x: Float[Array, " dim"]) -> Float[Array, ""]:
        """`V_θ(x)`."""
        z = self._standard(x)
        return self.c_v * (self.v_net(z)[0] + jnp.exp(self.log_quadratic) * jnp.sum(z**2))

    def transverse(self, x: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """`g_θ(x)`."""
        return self.c_g * self.g_net(self._standard(x))

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " dim"]:
        return -jax.grad(self.potential)(x) + self.transverse(x)


def initial_quadratic_weight(
    x: Float[Array, "n dim"], velocity: Float[Array, "n dim"], mean, scale
) -> float:
    """The weight `q` for which `V₀ = q|x̃|²` meets the orthogonality in the mean on data.

    `∇V₀·g₀ = 0` with `g₀ = b + ∇V₀` averaged over the pairs reads
    `q mean(b·c) + q² mean|c|² = 0`, `c = ∇|x̃|² = 2x̃/s`, so `q = −mean(b·c)/mean|c|²`
    (1, the authors' choice, when the data do not contract, `mean(b·c) ≥ 0`). The networks
    are left out (they are small at initialisation).
    """
    c = 2 * (x - mean) / scale**2
    num, den = float(jnp.mean(jnp.sum(velocity * c, -1))), float(jnp.mean(jnp.sum(c**2, -1)))
    return -num / den if num < 0 else 1.0


def field_loss(
    model: DecomposedField,
    x: Float[Array, "n dim"],
    v: Float[Array, "n dim"],
    scale=1.0,
    floor=None,
) -> Float[Array, ""]:
    """`mean |v − b_θ(x)|² / scale` for velocities `v` observed at points `x`.

    With `scale = mean |v|²` the loss is the squared relative error of the field. With
    `floor = δ²` each point is normalised by its own speed instead,
    `mean[|v − b_θ|² / (|v|² + δ²)]`, so slow regions (near fixed points) weigh as much
    as fast ones.
    """
    err = jnp.sum((v - jax.vmap(model)(x)) ** 2, axis=-1)
    if floor is None:
        return jnp.mean(err) / scale
    return jnp.mean(err / (jnp.sum(v**2, axis=-1) + floor))


def midpoint_velocities(x0, x1, dt):
    """`((x₀ + x₁)/2, (x₁ − x₀)/Δt)`: the midpoint rule's points and velocities of one-step pairs."""
    return 0.5 * (x0 + x1), (x1 - x0) / dt


def one_step_loss(
    model: DecomposedField,
    x0: Float[Array, "n dim"],
    x1: Float[Array, "n dim"],
    dt,
    scale=1.0,
    floor=None,
) -> Float[Array, ""]:
    """Midpoint one-step loss `mean |(x₁ − x₀)/Δt − b_θ((x₀ + x₁)/2)|² / scale` (`field_loss`
    at the midpoints)."""
    return field_loss(model, *midpoint_velocities(x0, x1, dt), scale, floor)


def orthogonality_residual(model: DecomposedField, x: Float[Array, "n dim"]) -> Float[Array, " n"]:
    """Cosine `∇V·g / (|∇V||g|)` at each row of `x` (zero for an orthogonal decomposition)."""
    grad_v = jax.vmap(jax.grad(model.potential))(x)
    g = jax.vmap(model.transverse)(x)
    dot = jnp.sum(grad_v * g, axis=-1)
    norms = jnp.linalg.norm(grad_v, axis=-1) * jnp.linalg.norm(g, axis=-1)
    return dot / (norms + 1e-12)


def orthogonality_loss(
    model: DecomposedField, x: Float[Array, "n dim"], negative_weight: float = 0.1
) -> Float[Array, ""]:
    """`mean[w cos²(∇V, g)]` with `w = 1` where `∇V·g > 0`, else `negative_weight` (0.1)."""
    cos = orthogonality_residual(model, x)
    return jnp.mean(jnp.where(cos > 0, 1.0, negative_weight) * cos**2)


def field_decomposition_loss(
    orthogonality_weight: float = 10.0,
    *,
    scale: float = 1.0,
    negative_weight=0.1,
    floor=None,
):
    """`loss(model, (x, v))`: `field_loss` + `λ` orthogonality loss at `x`
    (`λ = orthogonality_weight`)."""

    def loss(model, batch):
        x, v = batch
        orth = orthogonality_loss(model, x, negative_weight)
        return field_loss(model, x, v, scale, floor) + orthogonality_weight * orth

    return loss


def decomposition_loss(
    dt: float,
    orthogonality_weight: float = 10.0,
    *,
    scale: float = 1.0,
    negative_weight=0.1,
    floor=None,
):
    """`loss(model, (x0, x1))`: one-step loss (divided by `scale`) + `λ` orthogonality loss
    at the midpoints (`λ = orthogonality_weight`)."""
    if dt <= 0:
        raise ValueError(f"time step dt must be positive, got {dt}")
    inner = field_decomposition_loss(
        orthogonality_weight, scale=scale, negative_weight=negative_weight, floor=floor
    )
    return lambda model, batch: inner(model, midpoint_velocities(*batch, dt))


def anchor_loss(
    model: DecomposedField, x_star: Float[Array, " dim"], hessian: Float[Array, "dim dim"]
) -> Float[Array, ""]:
    """`|∇²V_θ(x*) − H|²_F / |H|²_F`: V's curvature at the stable point against a target `H`.

    With `H = lyapunov_quadratic(∇b(x*))` (`= Σ⁻¹/2`, so that `U = 2V ≈ ½δxᵀΣ⁻¹δx`), this is
    the boundary condition that singles the quasipotential out among the solutions of
    `b·∇U + ½|∇U|² = 0` (`U = 0` is one, and any orthogonal decomposition with a flat `V`
    in some direction is a near-minimum of the orthogonality penalty). It is not in the
    paper's loss. For a linear field it fixes U completely.
    """
    h = jax.hessian(model.potential)(x_star)
    return jnp.sum((h - hessian) ** 2) / jnp.sum(hessian**2)


def learned_quasipotential(
    model: DecomposedField, x: Float[Array, "n dim"], x_star: Float[Array, " dim"]
) -> Float[Array, " n"]:
    """`U_θ(x) = 2(V_θ(x) − V_θ(x*))`."""
    v = jax.vmap(model.potential)(jnp.asarray(x))
    return 2 * (v - model.potential(jnp.asarray(x_star)))
