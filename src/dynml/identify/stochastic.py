"""Stochastic OnsagerNet: `dX = f(X) dt + sqrt(eps) sigma(X) dW` with an OnsagerNet drift.

Drift `f = -(M + W) grad V - alpha grad V + g` (`onsager.OnsagerNet`). Two noise models:

- *free*: `sigma = S`, a learned constant lower-triangular matrix;
- *fluctuation–dissipation* (Chen, Yu, Li et al., the `onsagernet` package):
  `sigma = sqrt(2) (M + alpha I)^{1/2}` plus the correction `eps div(M + W)^T` in the drift,
  `(div K^T)_i = sum_j d_j K_ij`. With `g = 0` the Gibbs density `exp(-V / eps)` is then
  invariant (Ma, Chen, Fox 2015, "a complete recipe"). Only `sigma sigma^T` enters the law,
  so simulation uses the Cholesky factor of `2 (M + alpha I)` in place of the square root.

Training maximises the Gaussian likelihood of pairs `(x0, x1)` a step `dt` apart:
`x1 | x0 ~ N(m(x0), eps sigma sigma^T(x0) dt)`. The Euler–Maruyama mean `m = x0 + f dt`
biases the learned drift by `(dt / 2) L f + O(dt^2)`, `L f = (grad f) f + (1/2) C : hess f`
(the generator; Kessler 1997, Scand. J. Stat. 24, 211): a relative error of order
`dt |grad f| / 2`, 7 % at `dt = 0.02` on the `onsager-sde` box. The Heun mean
`m = x0 + (f(x0) + f(x0 + f(x0) dt)) dt / 2` matches the first term, `(grad f) f dt^2 / 2`,
and leaves `(dt / 4) C : hess f`, small where `|f| >> |C| |hess f|` (the drift dominates
the noise).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.solve import solve_sde
from .onsager import OnsagerNet
from .training import Pairs

_JITTER = 1e-6


MEANS = ("euler", "heun")
MOBILITY_INITS = ("orthogonal", "identity")


def transition_mean(
    drift: Callable[[Array], Array], x0: Float[Array, " dim"], dt: Array, mean: str = "euler"
) -> Float[Array, " dim"]:
    """One-step mean `m(x0)`: `x0 + f dt` (euler) or `x0 + (f(x0) + f(x0 + f dt)) dt / 2`
    (heun; removes the `(grad f) f dt^2 / 2` part of the bias, module doc)."""
    f0 = drift(x0)
    if mean == "euler":
        return x0 + f0 * dt
    if mean == "heun":
        return x0 + 0.5 * (f0 + drift(x0 + f0 * dt)) * dt
    raise ValueError(f"mean must be one of {MEANS}, got {mean!r}")


def em_log_likelihood(
    drift: Callable[[Array], Array],
    covariance: Callable[[Array], Array],
    x0: Float[Array, "n dim"],
    x1: Float[Array, "n dim"],
    dt: Float[Array, " n"],
    mean: str = "euler",
) -> Float[Array, ""]:
    """Mean Gaussian log-likelihood `log N(x1; m(x0), C(x0) dt)` of the pairs.

    `covariance(x)` is the diffusion matrix `C = eps sigma sigma^T` at `x`; `m` is
    `transition_mean(drift, x0, dt, mean)` (Euler–Maruyama by default, or Heun).
    """
    if mean not in MEANS:
        raise ValueError(f"mean must be one of {MEANS}, got {mean!r}")

    def one(a, b, d):
        cov = covariance(a) * d + _JITTER * jnp.eye(a.size)
        chol = jnp.linalg.cholesky(cov)
        z = jax.scipy.linalg.solve_triangular(
            chol, b - transition_mean(drift, a, d, mean), lower=True
        )
        log_det = 2 * jnp.sum(jnp.log(jnp.diag(chol)))
        return -0.5 * (z @ z + log_det + a.size * jnp.log(2 * jnp.pi))

    return jnp.mean(jax.vmap(one)(x0, x1, jnp.broadcast_to(dt, x0.shape[:1])))


class StochasticOnsagerNet(eqx.Module):
    """`dX = f(X) dt + sqrt(eps) sigma(X) dW` with an `OnsagerNet` drift (module doc).

    `StochasticOnsagerNet(dim, width, depth=1, fluctuation_dissipation=True, eps=0.1,
    mobility_init="orthogonal", key=..., **onsager_kwargs)`; `eps` is learned (through its
    logarithm). `mobility_init="identity"` starts the `M, W` head's bias at the identity
    (`L = I`, `U = 0`: `M = I`, `W = 0` up to the small-gain trunk) in place of the authors'
    random orthogonal matrix, whose `M = L L^T` can start nearly singular and anisotropic.
    """

    onsager: OnsagerNet
    log_eps: Array
    noise_raw: Array | None
    fluctuation_dissipation: bool = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        width: int,
        depth: int = 1,
        *,
        fluctuation_dissipation: bool = True,
        eps: float = 0.1,
        mobility_init: str = "orthogonal",
        key: PRNGKeyArray,
        **onsager_kwargs,
    ):
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        if mobility_init not in MOBILITY_INITS:
            raise ValueError(
                f"mobility_init must be one of {MOBILITY_INITS}, got {mobility_init!r}"
            )
        onsager = OnsagerNet(dim, width, depth, key=key, **onsager_kwargs)
        if mobility_init == "identity":
            bias = jnp.eye(dim).reshape(-1)
            onsager = eqx.tree_at(lambda m: m.matrix_head.bias, onsager, bias)
        self.onsager = onsager
        self.log_eps = jnp.log(jnp.asarray(eps, jnp.float32))
        self.noise_raw = None if fluctuation_dissipation else jnp.eye(dim)
        self.fluctuation_dissipation = fluctuation_dissipation

    @property
    def eps(self) -> Float[Array, ""]:
        return jnp.exp(self.log_eps)

    def _mobility(self, h):
        return self.onsager.M(h) + self.onsager.alpha * jnp.eye(h.size)

    def drift(self, h: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """`f(h)`, with `eps div(M + W)^T` added in the fluctuation–dissipation form."""
        if not self.fluctuation_dissipation:
            return self.onsager(h)
        jac = jax.jacfwd(lambda y: self.onsager.M(y) + self.onsager.W(y))(h)
        return self.onsager(h) + self.eps * jnp.einsum("ijj->i", jac)

    def covariance(self, h: Float[Array, " dim"]) -> Float[Array, "dim dim"]:
        """`eps sigma sigma^T`: `2 eps (M + alpha I)` or `eps S S^T`."""
        if self.fluctuation_dissipation:
            return 2 * self.eps * self._mobility(h)
        s = jnp.tril(self.noise_raw)
        return self.eps * s @ s.T

    def diffusion(self, h: Float[Array, " dim"]) -> Float[Array, "dim dim"]:
        """A factor `sqrt(eps) sigma` with `(sqrt(eps) sigma)(...)^T = covariance(h)`."""
        return jnp.linalg.cholesky(self.covariance(h) + _JITTER * jnp.eye(h.size))


def sde_nll(model: StochasticOnsagerNet, pairs: Pairs, mean: str = "euler") -> Float[Array, ""]:
    """Negative mean log-likelihood of `pairs` with the `mean` one-step mean (Euler–Maruyama
    or Heun); a `train_vector_field` loss (bind `mean` with `functools.partial`)."""
    return -em_log_likelihood(model.drift, model.covariance, *pairs, mean=mean)


def _drift(t, y, model):
    del t
    return model.drift(y)


def _diffusion(t, y, model):
    del t
    return model.diffusion(y)


def simulate_sde(
    model: StochasticOnsagerNet,
    y0: Float[Array, "batch dim"],
    ts: Float[Array, " n_t"],
    key: PRNGKeyArray,
    *,
    dt: float,
) -> Float[Array, "batch n_t dim"]:
    """Euler–Maruyama sample paths of the learned SDE from each row of `y0` (`core.solve_sde`)."""
    return solve_sde(_drift, _diffusion, y0, ts, key, dt=dt, args=model, batch=True)
