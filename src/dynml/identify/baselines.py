"""Baselines OnsagerNet must beat, all callable as vector fields `model(h) -> dh/dt`.

- `MLPODE`: an unstructured network field `dh/dt = N(h)` (a neural ODE on pairs).
- `DissipativeHamiltonianNet`: `dh/dt = (J - D(h)) grad H(h)` with `D = L L^T`
  (SymODEN-type, Zhong, Dey, Chakraborty 2020); canonical `J` and
  `H = V(q) + p^T K(q) p / 2` for even dimension, a learned antisymmetric `J` and free `H`
  otherwise. `dH/dt = -grad H^T D grad H <= 0`: no forcing, so it cannot sustain a chaotic
  attractor.
- `SINDy`: sparse regression on a polynomial library (Brunton, Proctor, Kutz 2016) through
  pysindy (STLSQ); the fitted coefficients become a JAX field rolled out like the others.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.field import AbstractVectorField
from ..core.nn import MLP
from ..core.nn import activation as _act
from .init import small_gain


class MLPODE(AbstractVectorField):
    """`dh/dt = N(h)`, `N` an MLP `dim -> width x depth -> dim` (387 params at 3/16/2).

    As the authors' `ODENet` (Yu et al. 2021, Fig. 7): the first layer `z = act(A_1 h + b_1)`,
    then `depth - 1` layers `z <- act(A_k z + b_k) + z` (the skip connection; `skip=False`
    drops it), then a linear read-out. `init_gain=0.1` is their initialisation (Xavier
    weights of gain 0.1, biases `U(0, 0.1)`); `init_gain=None` keeps equinox's default.
    """

    layers: tuple[eqx.nn.Linear, ...]
    readout: eqx.nn.Linear
    skip: bool = eqx.field(static=True)
    act: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        width: int,
        depth: int = 2,
        activation: str = "requr",
        skip: bool = True,
        init_gain: float | None = 0.1,
        *,
        key: PRNGKeyArray,
    ):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        keys = jax.random.split(key, 2 * depth + 2)
        sizes = [dim] + [width] * depth
        layers = [
            eqx.nn.Linear(a, b, key=k)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys[:depth], strict=True)
        ]
        readout = eqx.nn.Linear(width, dim, key=keys[depth])
        if init_gain is not None:
            layers = [
                small_gain(m, k, init_gain)
                for m, k in zip(layers, keys[depth + 1 : 2 * depth + 1], strict=True)
            ]
            readout = small_gain(readout, keys[-1], init_gain)
        self.layers, self.readout = tuple(layers), readout
        self.skip, self.act = skip, _act(activation)

    def __call__(self, h: Float[Array, " dim"]) -> Float[Array, " dim"]:
        z = self.act(self.layers[0](h))
        for layer in self.layers[1:]:
            z = self.act(layer(z)) + (z if self.skip else 0.0)
        return self.readout(z)


def _lower(raw: Array, n: int) -> Array:
    return jnp.tril(raw.reshape(n, n))


class DissipativeHamiltonianNet(AbstractVectorField):
    """`dh/dt = (J - D(h)) grad H(h)`, `D(h) = L(h) L(h)^T` positive semi-definite.

    Even `dim = 2n`, `h = (q, p)`: `J = [[0, I], [-I, 0]]` and
    `H = V(q) + p^T K(q) p / 2 + beta |q|^2`, `K = L_K L_K^T + beta I` (inverse mass).
    Odd `dim`: `J = U - U^T` (learned constant) and `H = N(h) + beta |h|^2`.
    """

    energy: MLP
    kinetic: MLP | None
    damping: MLP
    j_raw: Array | None
    dim: int = eqx.field(static=True)
    beta: float = eqx.field(static=True)
    act: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        width: int,
        depth: int = 1,
        activation: str = "tanh",
        beta: float = 0.1,
        *,
        key: PRNGKeyArray,
    ):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.dim, self.beta, self.act = dim, float(beta), _act(activation)
        if self.canonical:
            n = dim // 2
            self.energy = MLP(n, 1, width, depth, activation, key=k1)
            self.kinetic = MLP(n, n * n, width, depth, activation, key=k2)
            self.j_raw = None
        else:
            self.energy = MLP(dim, 1, width, depth, activation, key=k1)
            self.kinetic = None
            self.j_raw = 0.1 * jax.random.normal(k4, (dim, dim))
        self.damping = MLP(dim, dim * dim, width, depth, activation, key=k3)

    @property
    def canonical(self) -> bool:
        return self.dim % 2 == 0

    def H(self, h: Float[Array, " dim"]) -> Float[Array, ""]:
        """The learned Hamiltonian (energy)."""
        if not self.canonical:
            return self.energy(h)[0] + self.beta * jnp.sum(h**2)
        n = self.dim // 2
        q, p = h[:n], h[n:]
        low = _lower(self.kinetic(q), n)
        k = low @ low.T + self.beta * jnp.eye(n)
        return self.energy(q)[0] + 0.5 * p @ k @ p + self.beta * jnp.sum(q**2)

    def energy(self, h: Float[Array, " dim"]) -> Float[Array, ""]:
        """The Hamiltonian `H` (non-increasing along solutions)."""
        return self.H(h)

    def J(self) -> Float[Array, "dim dim"]:
        """The antisymmetric structure matrix."""
        if self.canonical:
            n = self.dim // 2
            eye, zero = jnp.eye(n), jnp.zeros((n, n))
            return jnp.block([[zero, eye], [-eye, zero]])
        upper = jnp.triu(self.j_raw, k=1)
        return upper - upper.T

    def D(self, h: Float[Array, " dim"]) -> Float[Array, "dim dim"]:
        """The dissipation matrix `L L^T`."""
        low = _lower(self.damping(h), self.dim)
        return low @ low.T

    def __call__(self, h: Float[Array, " dim"]) -> Float[Array, " dim"]:
        return (self.J() - self.D(h)) @ jax.grad(self.H)(h)


class SINDy(AbstractVectorField):
    """A polynomial field `dh/dt = Xi theta(h)`, `theta_k(h) = prod_i h_i^{P_ki}`, fitted by STLSQ.

    Build it with `SINDy.fit(h, dh)` (states and derivative estimates) or
    `SINDy.from_pairs(h1, h2, dt)` (secant slopes at midpoints, the pairs the networks see).
    """

    coefficients: Float[Array, "dim n_features"]
    powers: Array
    names: tuple[str, ...] = eqx.field(static=True)
    degree: int = eqx.field(static=True)

    @classmethod
    def fit(
        cls, h: np.ndarray, dh: np.ndarray, *, degree: int = 2, threshold: float = 0.5
    ) -> "SINDy":
        """Sparse regression of `dh` on the monomials of `h` up to `degree` (pysindy STLSQ)."""
        import pysindy as ps

        h, dh = np.asarray(h, np.float64), np.asarray(dh, np.float64)
        if h.ndim != 2 or h.shape != dh.shape:
            raise ValueError(f"SINDy.fit needs h, dh of equal shape (n, dim); got {h.shape}")
        model = ps.SINDy(
            optimizer=ps.STLSQ(threshold=threshold),
            feature_library=ps.PolynomialLibrary(degree=degree),
        )
        model.fit(h, t=1.0, x_dot=dh)
        return cls(
            jnp.asarray(model.coefficients(), jnp.float32),
            jnp.asarray(model.feature_library.powers_, jnp.int32),
            tuple(model.get_feature_names()),
            degree,
        )

    @classmethod
    def from_pairs(cls, h1, h2, dt, **kwargs) -> "SINDy":
        """Fit on secant slopes `(h2 - h1)/dt` at midpoints `(h1 + h2)/2` (second order)."""
        h1, h2 = np.asarray(h1, np.float64), np.asarray(h2, np.float64)
        return cls.fit(0.5 * (h1 + h2), (h2 - h1) / np.asarray(dt).reshape(-1, 1), **kwargs)

    def features(self, h: Float[Array, " dim"]) -> Float[Array, " n_features"]:
        """The monomials `theta(h)` (integer powers by table look-up, exact for negative h)."""
        ones = jnp.ones((1, h.size), h.dtype)
        table = jnp.cumprod(jnp.concatenate([ones, jnp.tile(h, (self.degree, 1))]), axis=0)
        return jnp.prod(table[self.powers, jnp.arange(h.size)], axis=1)

    def __call__(self, h: Float[Array, " dim"]) -> Float[Array, " dim"]:
        return self.coefficients @ self.features(h)

    def equations(self, precision: int = 3) -> list[str]:
        """The fitted right-hand sides as text, e.g. `-10.000 x0 + 10.000 x1`."""
        coef = np.asarray(self.coefficients)
        return [
            " + ".join(
                f"{c:.{precision}f} {n}" for c, n in zip(row, self.names, strict=True) if c != 0
            )
            or "0"
            for row in coef
        ]
