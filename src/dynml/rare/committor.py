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
from .regions import Region, smooth_indicator


class NeuralCommittor(eqx.Module):
    """`q_θ(x)` for the regions `region_a`, `region_b` (level-set functions, `≤ 0` inside).

    With `built_in_bc=True` the ansatz meets `q|_A = 0`, `q|_B = 1` exactly, through
    indicators that fall from 1 to 0 over a `collar` outside each region; otherwise
    `q = q̃_θ` and the loss needs the penalty term. `width` and `depth` are the MLP's.
    """

    net: MLP
    region_a: Region = eqx.field(static=True)
    region_b: Region = eqx.field(static=True)
    collar: float = eqx.field(static=True)
    built_in_bc: bool = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        region_a: Region,
        region_b: Region,
        *,
        key: PRNGKeyArray,
        width: int = 64,
        depth: int = 3,
        activation: str = "tanh",
        collar: float = 0.02,
        built_in_bc: bool = True,
    ):
        if dim < 1:
            raise ValueError(f"the committor needs dim >= 1, got {dim}")
        if collar <= 0:
            raise ValueError(f"the indicator collar must be positive, got {collar}")
        self.net = MLP(dim, 1, width, depth, activation, key=key)
        self.region_a, self.region_b = region_a, region_b
        self.collar, self.built_in_bc = float(collar), built_in_bc

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, ""]:
        free = jax.nn.sigmoid(self.net(x)[0])
        if not self.built_in_bc:
            return free
        chi_a = smooth_indicator(self.region_a, x, self.collar)
        chi_b = smooth_indicator(self.region_b, x, self.collar)
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


@eqx.filter_jit
def committor_rate(
    model: NeuralCommittor, x: Float[Array, "n dim"], w: Float[Array, " n"], *, beta: float
) -> Float[Array, ""]:
    """`ν_AB = β⁻¹ Σ w|∇q|² / Σ w`: the reweighted estimate of `(βZ)⁻¹∫|∇q|² e^{−βV}`."""
    return jnp.sum(w * _grad_sq(model, x)) / (beta * jnp.sum(w))


@eqx.filter_jit
def committor_rate_stderr(
    model: NeuralCommittor,
    x: Float[Array, "n dim"],
    w: Float[Array, " n"],
    *,
    beta: float,
    blocks: int,
) -> Float[Array, ""]:
    """Standard error of `committor_rate` by batch means over `blocks` runs of rows.

    For the ratio `ν = Σ wf / (β Σ w)`, `f = |∇q|²`, with block sums `N_b = Σ_b wf`,
    `D_b = Σ_b w`: `SE² = K/(K − 1) Σ_b (N_b − βν D_b)² / (β Σ w)²` (delta method for a
    self-normalised importance-sampling estimate, Owen, *Monte Carlo theory*, §9.2, with
    clusters). Consecutive rows of one chain share a block, which carries their correlation.
    """
    f = _grad_sq(model, x)
    k = min(int(blocks), x.shape[0])
    ids = jnp.arange(x.shape[0]) * k // x.shape[0]
    num = jax.ops.segment_sum(w * f, ids, num_segments=k)
    den = jax.ops.segment_sum(w, ids, num_segments=k)
    ratio = jnp.sum(num) / jnp.sum(den)
    var = k / (k - 1) * jnp.sum((num - ratio * den) ** 2) / jnp.sum(den) ** 2
    return jnp.sqrt(var) / beta


@eqx.filter_jit
def committor_values(model: NeuralCommittor, x: Float[Array, "n dim"]) -> Float[Array, " n"]:
    """`q_θ` at each row of `x`."""
    return jax.vmap(model)(jnp.asarray(x))
