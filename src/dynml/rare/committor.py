"""Neural committor functions (Li, Lin & Ren, J. Chem. Phys. 151, 054112, 2019).

For `dx = −∇V dt + √(2/β) dW` the committor `q` minimises `E_μ|∇q|²`, `μ ∝ e^{−βV}`, with
`q = 0` on A and `q = 1` on B. The boundary conditions are built into the ansatz

    q = (1 − χ_A)[(1 − χ_B) q̃_θ + χ_B],   q̃_θ = sigmoid(NN_θ(x)),

with indicators `χ` equal to 1 on the sets exactly (so `q` meets the conditions for every
`θ`), or imposed by a penalty `λ(E_A q² + E_B (1 − q)²)`. The rate is
`ν_AB = (βZ)⁻¹ ∫|∇q|² e^{−βV} dx = β⁻¹ E_μ|∇q|²`, estimated with reweighted samples.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.nn import MLP


def disc_indicator(
    x: Float[Array, " dim"], center: tuple[float, ...], radius: float, width: float
) -> Float[Array, ""]:
    """Smooth indicator of the disc `|x[:2] − c| ≤ r`: exactly 1 inside, exactly 0 beyond `r + width`.

    Between, `1 − s(t)` with the C² smoothstep `s(t) = 6t⁵ − 15t⁴ + 10t³`, `t = (|x − c| − r)/width`.
    """
    c = jnp.asarray(center)
    d = jnp.sqrt(jnp.sum((x[: c.shape[0]] - c) ** 2) + 1e-30)
    t = jnp.clip((d - radius) / width, 0.0, 1.0)
    return 1.0 - t**3 * (10 - 15 * t + 6 * t**2)


class NeuralCommittor(eqx.Module):
    """`q_θ(x)`; A and B are discs of `radius` around `center_a`, `center_b` in `x[:2]`.

    With `built_in_bc=True` the ansatz meets `q|_A = 0`, `q|_B = 1` exactly; otherwise
    `q = q̃_θ` and the loss needs the penalty term.
    """

    net: MLP
    center_a: tuple[float, ...] = eqx.field(static=True)
    center_b: tuple[float, ...] = eqx.field(static=True)
    radius: float = eqx.field(static=True)
    width: float = eqx.field(static=True)
    built_in_bc: bool = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        center_a: tuple[float, ...],
        center_b: tuple[float, ...],
        radius: float,
        *,
        key: PRNGKeyArray,
        width: int = 64,
        depth: int = 3,
        activation_name: str = "tanh",
        indicator_width: float = 0.02,
        built_in_bc: bool = True,
    ):
        if dim < 2:
            raise ValueError(f"the committor needs dim >= 2, got {dim}")
        self.net = MLP(dim, 1, width, depth, activation_name, key=key)
        self.center_a, self.center_b = tuple(center_a), tuple(center_b)
        self.radius, self.width, self.built_in_bc = radius, indicator_width, built_in_bc

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, ""]:
        free = jax.nn.sigmoid(self.net(x)[0])
        if not self.built_in_bc:
            return free
        chi_a = disc_indicator(x, self.center_a, self.radius, self.width)
        chi_b = disc_indicator(x, self.center_b, self.radius, self.width)
        return (1 - chi_a) * ((1 - chi_b) * free + chi_b)


def _grad_sq(model: NeuralCommittor, x: Float[Array, "n dim"]) -> Float[Array, " n"]:
    return jnp.sum(jax.vmap(jax.grad(model))(x) ** 2, axis=-1)


def variational_loss(
    model: NeuralCommittor, batch: tuple[Float[Array, "n dim"], Float[Array, " n"]]
) -> Float[Array, ""]:
    """`mean(w |∇q|²)` over samples `x` with likelihood-ratio weights `w` (mean one)."""
    x, w = batch
    return jnp.mean(w * _grad_sq(model, x))


def penalised_loss(
    boundary_a: Float[Array, "m dim"], boundary_b: Float[Array, "m dim"], penalty: float
):
    """Variational loss plus `penalty (mean_A q² + mean_B (1 − q)²)` on points of A and B."""

    def loss(model, batch):
        qa, qb = jax.vmap(model)(boundary_a), jax.vmap(model)(boundary_b)
        bc = jnp.mean(qa**2) + jnp.mean((1 - qb) ** 2)
        return variational_loss(model, batch) + penalty * bc

    return loss


def committor_rate(
    model: NeuralCommittor, x: Float[Array, "n dim"], w: Float[Array, " n"], *, beta: float
) -> Float[Array, ""]:
    """`ν_AB = β⁻¹ Σ w|∇q|² / Σ w`: the reweighted estimate of `(βZ)⁻¹∫|∇q|² e^{−βV}`."""
    return jnp.sum(w * _grad_sq(model, x)) / (beta * jnp.sum(w))


def committor_values(model: NeuralCommittor, x: Float[Array, "n dim"]) -> Float[Array, " n"]:
    """`q_θ` at each row of `x`."""
    return jax.vmap(model)(jnp.asarray(x))
