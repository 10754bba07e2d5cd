"""OnsagerNet on the coordinates of the near-isometric PCA-ResNet autoencoder.

Yu, Tian, E, Li (Phys. Rev. Fluids 6, 114402, 2021, section V): the autoencoder
`PCAResNet(pca, widths)` (its first layer the frozen PCA projection onto `widths[0]`
components, then PCA-initialised residual layers down to `m`) and a vector field on its
`m` coordinates are trained together by `reduce.joint_loss` (one-step ODE loss on the
encoded pairs + reconstruction + the isometry penalty), starting from a field already fitted
on the `m`-component PCA coordinates.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, PRNGKeyArray

from ..core.data import Trajectories
from ..core.nn import count_params
from .reduce import PCA, PCAResNet, train_jointly


@dataclass(frozen=True)
class Autoencoded:
    """The trained `ae` and `field`, the encoded snapshots `h` and the parameter count."""

    ae: PCAResNet
    field: eqx.Module
    h: np.ndarray
    n_params: int


def fit_autoencoded(
    pca: PCA,
    field: eqx.Module,
    train: "Trajectories | tuple",
    x: Float[np.ndarray, "n_traj n_t dim"],
    widths: tuple[int, ...],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    key: PRNGKeyArray,
) -> Autoencoded:
    """Train `PCAResNet(pca.leading(widths[0]), widths[1:])` with `field` (of dimension
    `widths[-1]`) on the pairs `train = (x1, x2, dt)` (or a `Trajectories`' consecutive
    snapshots); encode the snapshots `x`."""
    k1, k2 = jax.random.split(key)
    ae = PCAResNet(pca.leading(widths[0]), widths=tuple(widths[1:]), key=k1)
    ae, field = train_jointly(ae, field, train, epochs=epochs, key=k2, batch_size=batch_size,
                              progress=False, learning_rate=learning_rate).model  # fmt: skip
    h = np.asarray(jax.vmap(jax.vmap(ae.encode))(jnp.asarray(x)))
    return Autoencoded(ae, field, h, count_params(ae) + count_params(field))
