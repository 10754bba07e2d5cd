"""The reduced-model comparison of the Rayleigh–Bénard study: OnsagerNet, MLP-ODE and SINDy
fitted on one set of pairs (Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402, 2021, section V).

Sizes and schedule as in the authors' code (`RBC1r/config.py`, `rbc_ode.py`,
`paper_tabI_pca.sh` in github yuhj1998/OnsagerNet): OnsagerNet with `depth = 2` hidden
layers of width `w(m) = 2 C(m + 2, 2)` (`iNodeC = 2`: 20, 42, 72 for m = 3, 5, 7), the
MLP-ODE with `depth + 1` hidden layers of the width that gives it at least OnsagerNet's
number of parameters (their `get_ode_nodes` sizes it to the same count), both trained by the
one-step Heun loss with AdamW-AMSGrad, lr 0.0064, batch 200, 600 epochs, no weight decay
(`train_vector_field`); SINDy (quadratic library) on the same pairs' secant slopes.
"""

from dataclasses import dataclass
from math import comb

import jax
from jaxtyping import PRNGKeyArray

from ..core.nn import count_params
from .baselines import MLPODE, SINDy
from .onsager import OnsagerNet
from .training import as_pairs, train_vector_field


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


def fit_comparison(
    x0, x1, dt, protocol: Protocol, *, key: PRNGKeyArray, progress: bool = False
) -> dict:
    """`{"OnsagerNet": ..., "MLP-ODE": ..., "SINDy": ...}` fitted on the pairs `(x0, x1, dt)`
    (`x1` the state `dt` after `x0`, shapes `(n, m)`)."""
    m = x0.shape[-1]
    pairs = as_pairs(x0, x1, dt)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    kw = dict(epochs=protocol.epochs, batch_size=protocol.batch_size,
              learning_rate=protocol.learning_rate, progress=progress)  # fmt: skip
    onsager = OnsagerNet(m, protocol.width(m), protocol.depth, key=k1)
    mlp_depth = protocol.depth + 1
    mlp = MLPODE(m, matched_width(m, count_params(onsager), mlp_depth), mlp_depth, key=k3)
    onsager = train_vector_field(onsager, pairs, key=k2, desc=f"onsager m={m}", **kw).model
    mlp = train_vector_field(mlp, pairs, key=k4, desc=f"mlp m={m}", **kw).model
    sindy = SINDy.from_pairs(x0, x1, dt, threshold=protocol.sindy_threshold)
    return {"OnsagerNet": onsager, "MLP-ODE": mlp, "SINDy": sindy}
