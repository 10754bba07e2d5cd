"""The reduced-model comparison of the Rayleigh–Bénard study: OnsagerNet, MLP-ODE and SINDy
fitted on one set of pairs (Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402, 2021, section V).

Sizes and schedule as in the authors' code (`RBC1r/config.py`, `rbc_ode.py`,
`paper_tabI_pca.sh` in github yuhj1998/OnsagerNet): OnsagerNet with `depth = 2` hidden
layers of width `w(m) = 2 C(m + 2, 2)` (`iNodeC = 2`: 20, 42, 72 for m = 3, 5, 7), the
MLP-ODE with `depth + 1` hidden layers of the width their `get_ode_nodes` gives
(`authors_mlp_width`: 17, 37, 66), both trained by the one-step Heun loss with
AdamW-AMSGrad, lr 0.0064, batch 200, 600 epochs (their `config.py`; their paper scripts
pass 1000), no weight decay (`train_vector_field`); SINDy (quadratic library) on the same
pairs' secant slopes. `seeds=K` trains K seeds of each network together (vmapped), as their
scripts run `nseed = 3`.
"""

from dataclasses import dataclass
from math import comb, sqrt

import jax
from jaxtyping import PRNGKeyArray

from .baselines import MLPODE, SINDy
from .onsager import OnsagerNet
from .training import as_pairs, member, train_vector_field


@dataclass(frozen=True)
class Protocol:
    """Network sizes and training schedule of the comparison (defaults: the authors')."""

    width_factor: int = 2
    depth: int = 2
    epochs: int = 600
    batch_size: int = 200
    learning_rate: float = 0.0064
    sindy_threshold: float = 0.005

    def width(self, m: int) -> int:
        """OnsagerNet's hidden width `width_factor * C(m + 2, 2)`."""
        return self.width_factor * comb(m + 2, 2)


AUTHORS_RBC = Protocol()


def matched_width(dim: int, n_params: int, depth: int) -> int:
    """The smallest MLP-ODE width (`depth` hidden layers) with at least `n_params` parameters.

    `MLPODE(dim, w, depth)` has `(dim + 1) w + (depth - 1)(w + 1) w + (w + 1) dim` parameters.
    """
    width = 1
    while (dim + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * dim < n_params:
        width += 1
    return width


def authors_mlp_width(dim: int, width: int, depth: int) -> int:
    """The MLP-ODE width of the authors' `get_ode_nodes` for an OnsagerNet of `depth` layers
    of `width`: with `P = (width + 1)(dim + 1)^2 + width (width + 1)(depth - 1)` (their
    estimate of OnsagerNet's size), the floor of the positive root of
    `depth n^2 + (2 dim + depth + 1) n = P`; the MLP-ODE then has `depth + 1` layers of it."""
    p = (width + 1) * (dim + 1) ** 2 + width * (width + 1) * (depth - 1)
    b = 2 * dim + depth + 1
    return int((sqrt(b * b + 4 * depth * p) - b) / (2 * depth))


def fit_comparison(
    x0, x1, dt, protocol: Protocol, *, key: PRNGKeyArray, seeds: int = 1, progress: bool = False
) -> dict[str, list]:
    """`{"OnsagerNet": [...], "MLP-ODE": [...], "SINDy": [sindy]}` fitted on the pairs
    `(x0, x1, dt)` (`x1` the state `dt` after `x0`, shapes `(n, m)`): `seeds` members of
    each network (trained together, each as if alone), one SINDy (deterministic)."""
    m = x0.shape[-1]
    pairs = as_pairs(x0, x1, dt)
    k1, k2 = jax.random.split(key)
    kw = dict(epochs=protocol.epochs, batch_size=protocol.batch_size, seeds=seeds,
              learning_rate=protocol.learning_rate, progress=progress)  # fmt: skip
    width, depth = protocol.width(m), protocol.depth
    mlp_width = authors_mlp_width(m, width, depth)
    nets = {
        "OnsagerNet": lambda k: OnsagerNet(m, width, depth, key=k),
        "MLP-ODE": lambda k: MLPODE(m, mlp_width, depth + 1, key=k),
    }
    out = {}
    for (name, build), k in zip(nets.items(), (k1, k2), strict=True):
        stacked = train_vector_field(build, pairs, key=k, desc=f"{name} m={m}", **kw).model
        out[name] = [member(stacked, i) for i in range(seeds)]
    out["SINDy"] = [SINDy.from_pairs(x0, x1, dt, threshold=protocol.sindy_threshold)]
    return out
