"""OnsagerNet: a vector field with the structure of the generalised Onsager principle.

Yu, Tian, E, Li, "OnsagerNet: learning stable and interpretable dynamics using a generalized
Onsager principle", Phys. Rev. Fluids 6, 114402 (2021), arXiv:2009.02327.

The principle `(M + W) dh/dt = -grad V + g` is parametrised, as in the authors' code, without
inverting `M + W`:

    dh/dt = -(M(h) + W(h)) grad V(h) - alpha grad V(h) + g(h),

with `M = L L^T` (L lower triangular, so M is symmetric positive semi-definite),
`W = U - U^T` (antisymmetric), both read from one shared trunk `z(h)`; the potential
`V(h) = sum_i (phi_i(h) + (Gamma h)_i)^2 + beta |h|^2` with `phi` read from the same trunk;
and the forcing `g(h) = A h + b` (affine), `b` (constant) or `0` (none).

**Why it is stable.** Along any solution,

    dV/dt = grad V . dh/dt = -grad V^T M grad V - alpha |grad V|^2 + grad V . g,

because `grad V^T W grad V = 0` for antisymmetric W. Hence:

1. *No forcing* (`g = 0`): `dV/dt <= -alpha |grad V|^2 <= 0`; V is a Lyapunov function and
   every trajectory stays in the sublevel set `{V <= V(h(0))}`, which is bounded when
   `beta > 0` since `V >= beta |h|^2`. With `beta = 0` (the authors' Langevin setting) V is
   still bounded below (`V >= 0`) and non-increasing, but its sublevel sets need not be
   bounded, so boundedness is then not proved.
2. *Affine forcing* (`g = A h + b`): for activations with a bounded derivative and a bounded
   homogeneity defect `|s act'(s) - act(s)| <= c` (ReQUr: c = 1/4; also ReLU, tanh,
   softplus) the trunk satisfies `h . grad psi(h) = psi(h) + r(h)` with `|r| <= R`, where
   `psi = phi + Gamma h`. Then `h . grad V = 2 psi . (psi + r) + 2 beta |h|^2
   >= 2 beta |h|^2 - R^2/2`, so `|grad V| >= 2 beta |h| - R^2 / (2|h|)`, and

       dV/dt <= |grad V| (|A| |h| + |b| - alpha |grad V|) < 0   for |h| large enough

   whenever `|A|_2 < 2 alpha beta`. V then cannot grow outside a ball, so
   `V(h(t)) <= max(V(h(0)), max_{|h| <= R0} V)` and, with `V >= beta |h|^2`, `h(t)` is
   bounded. With constant forcing (`A = 0`) the condition always holds. `stability_margin`
   returns `2 alpha beta - |A|_2` (positive: the bound is proved for this model). Learned
   models may violate the sufficient condition; the experiments then measure boundedness.

ReQU (`relu(x)^2`, the authors' `-f 2`) is accepted too, although its slope is unbounded and
the proof above does not cover it; the authors' small-gain initialisation (`init_gain=0.1`:
Xavier/orthogonal weights of gain 0.1, the `M, W` head's bias an orthogonal matrix so that
`M + W` starts non-degenerate) keeps it finite at the start, and boundedness is then measured.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.field import AbstractVectorField
from ..core.nn import activation
from .init import orthogonal, small_gain

FORCINGS = ("affine", "constant", "none")


class OnsagerNet(AbstractVectorField):
    """`dh/dt = -(M(h) + W(h)) grad V(h) - alpha grad V(h) + g(h)` (Yu et al. 2021).

    `OnsagerNet(dim, width, depth=1, alpha=0.1, beta=0.1, forcing="affine",
    activation="requr", key=...)` builds a trunk of one `dim -> width` layer and
    `depth - 1` residual `width -> width` layers; heads read `L`, `U` (one `dim x dim`
    matrix: lower triangle including the diagonal is L, strict upper triangle is U) and
    `phi` (`dim` values) from it. With `dim=3, width=20, depth=1` it has 356 parameters,
    as in the paper's Lorenz model. `init_gain=0.1` is the authors' initialisation (module
    doc); `init_gain=None` keeps equinox's default. Call it as a vector field: `model(h) -> dh/dt`; inspect
    `M(h)`, `W(h)`, `V(h)`, `g(h)`.
    """

    layers: tuple[eqx.nn.Linear, ...]
    matrix_head: eqx.nn.Linear
    potential_head: eqx.nn.Linear
    gamma: eqx.nn.Linear
    force: eqx.nn.Linear | None
    force_bias: Array | None
    dim: int = eqx.field(static=True)
    alpha: float = eqx.field(static=True)
    beta: float = eqx.field(static=True)
    forcing: str = eqx.field(static=True)
    act: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        width: int,
        depth: int = 1,
        alpha: float = 0.1,
        beta: float = 0.1,
        forcing: str = "affine",
        activation: str = "requr",
        init_gain: float | None = 0.1,
        *,
        key: PRNGKeyArray,
    ):
        if forcing not in FORCINGS:
            raise ValueError(f"forcing must be one of {FORCINGS}, got {forcing!r}")
        if depth < 1 or width < 1 or dim < 1:
            raise ValueError(f"dim, width, depth must be >= 1, got {dim}, {width}, {depth}")
        if alpha < 0 or beta < 0:
            raise ValueError(f"need alpha >= 0 and beta >= 0, got alpha={alpha}, beta={beta}")
        act = _activation(activation)
        parts = _initial_parts(
            dim, width, depth, forcing, None if init_gain is None else float(init_gain), key
        )
        self.layers, self.matrix_head, self.potential_head, self.gamma = parts[:4]
        self.force, self.force_bias = parts[4:]
        self.dim, self.alpha, self.beta, self.forcing = dim, float(alpha), float(beta), forcing
        self.act = act

    def trunk(self, h: Float[Array, " dim"]) -> Float[Array, " width"]:
        """Shared features `z(h)`: one layer, then residual layers `z + act(W z + b)`."""
        z = self.act(self.layers[0](h))
        for layer in self.layers[1:]:
            z = z + self.act(layer(z))
        return z

    def _matrices(self, h) -> tuple[Array, Array]:
        raw = self.matrix_head(self.trunk(h)).reshape(self.dim, self.dim)
        lower, upper = jnp.tril(raw), jnp.triu(raw, k=1)
        return lower @ lower.T, upper - upper.T

    def M(self, h: Float[Array, " dim"]) -> Float[Array, "dim dim"]:
        """Dissipation matrix `M = L L^T` (symmetric positive semi-definite)."""
        return self._matrices(h)[0]

    def W(self, h: Float[Array, " dim"]) -> Float[Array, "dim dim"]:
        """Conservative matrix `W = U - U^T` (antisymmetric)."""
        return self._matrices(h)[1]

    def V(self, h: Float[Array, " dim"]) -> Float[Array, ""]:
        """Potential `V = sum_i (phi_i(h) + (Gamma h)_i)^2 + beta |h|^2 >= beta |h|^2 >= 0`."""
        psi = self.potential_head(self.trunk(h)) + self.gamma(h)
        return jnp.sum(psi**2) + self.beta * jnp.sum(h**2)

    def energy(self, h: Float[Array, " dim"]) -> Float[Array, ""]:
        """The potential `V` (a Lyapunov function when `g = 0`)."""
        return self.V(h)

    def g(self, h: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """Forcing: `A h + b` (affine), `b` (constant) or `0` (none)."""
        if self.force is not None:
            return self.force(h)
        if self.force_bias is not None:
            return self.force_bias
        return jnp.zeros_like(h)

    def __call__(self, h: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """The vector field `dh/dt` at one state `h` (vmap for a batch)."""
        grad_v = jax.grad(self.V)(h)
        m, w = self._matrices(h)
        return -(m + w) @ grad_v - self.alpha * grad_v + self.g(h)

    def stability_margin(self) -> Float[Array, ""]:
        """`2 alpha beta - |A|_2`: positive means bounded trajectories are proved (module doc)."""
        if self.force is None:
            return jnp.asarray(2 * self.alpha * self.beta)
        return 2 * self.alpha * self.beta - jnp.linalg.norm(self.force.weight, ord=2)


def _build_parts(dim: int, width: int, depth: int, forcing: str, init_gain: float | None, key):
    """The initial layers `(trunk, matrix head, potential head, Gamma, force, force bias)`.

    Equinox's default initialisation, then (with `init_gain`) the authors' small-gain one
    (module doc). Run eagerly this is dozens of small dispatches, each compiled once per
    shape; `_initial_parts` is the same function jitted, one compilation per configuration.
    """
    keys = jax.random.split(key, depth + 4)
    layers = (eqx.nn.Linear(dim, width, key=keys[0]),) + tuple(
        eqx.nn.Linear(width, width, key=k) for k in keys[1:depth]
    )
    matrix_head = eqx.nn.Linear(width, dim * dim, key=keys[depth])
    potential_head = eqx.nn.Linear(width, dim, key=keys[depth + 1])
    gamma = eqx.nn.Linear(dim, dim, key=keys[depth + 2])
    force = eqx.nn.Linear(dim, dim, key=keys[depth + 3]) if forcing == "affine" else None
    force_bias = jnp.zeros(dim) if forcing == "constant" else None
    if init_gain is None:
        return layers, matrix_head, potential_head, gamma, force, force_bias
    gain = init_gain
    keys = iter(jax.random.split(jax.random.fold_in(key, 7), len(layers) + 5))
    layers = tuple(small_gain(layer, next(keys), gain, bias_gain=0.5 * gain) for layer in layers)
    head = small_gain(matrix_head, next(keys), gain)
    bias = orthogonal(next(keys), (dim, dim), 1.0).reshape(-1)
    matrix_head = eqx.tree_at(lambda m: m.bias, head, bias)
    potential_head = small_gain(potential_head, next(keys), gain, weight="orthogonal")
    gamma = small_gain(gamma, next(keys), gain, weight="orthogonal")
    if force is not None:
        force = small_gain(force, next(keys), gain, bias_gain=0.5 * gain, weight="orthogonal")
    return layers, matrix_head, potential_head, gamma, force, force_bias


# Sizes, forcing and gain are static (Python values), the key traced: one compiled program
# per configuration, reused by every seed and every ensemble member.
_initial_parts = eqx.filter_jit(_build_parts)


_BOUNDED_DEFECT = ("requr", "relu", "tanh", "softplus", "sigmoid", "elu", "identity")
_ACCEPTED = (*_BOUNDED_DEFECT, "requ")


def _activation(name: str) -> Callable[[Array], Array]:
    if name not in _ACCEPTED:
        raise ValueError(
            f"OnsagerNet activation must have a bounded derivative (stability proof) or be "
            f"the authors' ReQU; choose one of {_ACCEPTED}, got {name!r}"
        )
    return activation(name)
