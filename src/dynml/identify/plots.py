"""Figures of a reduced-model study: PCA spectrum, phase portraits, learned energy, fixed
points, snapshots of a field. Each function returns a matplotlib figure;
`reduced_model_figures` gathers them as `(name, figure, caption)` for `Run.figure`."""

import jax
import jax.numpy as jnp
import numpy as np

from ..core import plot
from .analysis import FixedPoints


def _finite(h: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(h), h, np.nan)


def variance_bars(ours: np.ndarray, paper: np.ndarray):
    """Explained variance (percent) of each principal component, ours beside the paper's."""
    fig, ax = plot.figure(size=4.5)
    k = np.arange(1, len(paper) + 1)
    ax.bar(k - 0.2, ours, 0.4, label="ours")
    ax.bar(k + 0.2, paper, 0.4, label="paper")
    ax.set_yscale("log")
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance (%)")
    ax.legend()
    return fig


def portrait_grid(series: dict, dims=((0, 1), (0, 2))):
    """One column per named `(n_traj, n_t, dim)` set, one row per coordinate pair; every panel
    takes the limits of the first column's (blown-up values are not drawn)."""
    fig, axes = plot.figure(len(series), len(dims), size=3.2)
    for col, (name, h) in enumerate(series.items()):
        for row, pair in enumerate(dims):
            plot.phase_portrait(axes[row, col], _finite(h), dims=pair, title="" if row else name)
            axes[row, col].set_xlim(axes[row, 0].get_xlim())
            axes[row, col].set_ylim(axes[row, 0].get_ylim())
    return fig


def energy_figure(energy, h: np.ndarray, t: np.ndarray, extent: float = 2.5, n: int = 80):
    """A learned energy `V(h)` along trajectories `h` over `t` (log scale), and `log10 V` on the
    plane of the first two coordinates (the others zero) over `[-extent, extent]^2`."""
    fig, axes = plot.figure(2, size=4.0)
    for e in np.asarray(jax.vmap(jax.vmap(energy))(jnp.asarray(h))):
        axes[0].plot(t, e, lw=0.6)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("t (metric units)")
    axes[0].set_ylabel("learned V(h)")
    axes[0].set_title("learned energy along test data")
    g = np.linspace(-extent, extent, n)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    rest = np.zeros((len(grid), h.shape[-1] - 2))
    v = jax.vmap(energy)(jnp.asarray(np.concatenate([grid, rest], 1), jnp.float32))
    title = "log10 V on the (h1, h2) plane"
    plot.contour_map(axes[1], g, g, np.log10(np.asarray(v)).reshape(n, n), title=title)
    return fig


def fixed_point_figure(fixed: FixedPoints, h: np.ndarray, dims=((0, 1), (0, 2))):
    """Stable (green) and unstable (red) fixed points over trajectories `h` (grey)."""
    fig, axes = plot.figure(len(dims), size=4.5)
    stable = fixed.n_unstable == 0
    for ax, pair in zip(axes, dims, strict=True):
        plot.phase_portrait(ax, h, dims=pair, color="0.7")
        for mask, colour, marker, label in ((stable, "tab:green", "o", "stable"),
                                            (~stable, "tab:red", "x", "unstable")):  # fmt: skip
            points = fixed.points[mask][:, pair].T
            ax.scatter(*points, c=colour, marker=marker, s=50, label=label, zorder=3)
    axes[0].legend()
    return fig


def side_by_side(series: dict, dims=(0, 2)):
    """One phase portrait per named `(n_traj, n_t, dim)` set on the coordinates `dims`."""
    fig, axes = plot.figure(len(series), size=4.0)
    for ax, (name, h) in zip(axes, series.items(), strict=True):
        plot.phase_portrait(ax, _finite(h), dims=dims, title=name)
    return fig


def field_snapshots(t: np.ndarray, frames: np.ndarray, times, extent, name: str = "theta"):
    """`frames[i]` `(nx, nz)` at the saved times nearest to each of `times`, over `extent`."""
    fig, axes = plot.figure(len(times), 1, size=3.0)
    for ax, target in zip(axes, times, strict=True):
        i = int(np.argmin(np.abs(t - target)))
        ax.imshow(frames[i].T, origin="lower", extent=extent, cmap="RdBu_r")
        ax.set_title(f"{name}, t = {t[i]:.3g}")
    return fig


def reduced_model_figures(t, series: dict, energy, fixed: FixedPoints, *, frames=None,
                          extent=None, times=None, ratio=None, paper_ratio=None,
                          lorenz: dict | None = None) -> list[tuple[str, object, str]]:  # fmt: skip
    """The Rayleigh–Bénard study's figures (Yu, Tian, E, Li 2021, section V): `series` =
    `{"data": h, model: rollouts}` in PCA coordinates, the learned `energy` (over 2.5 standard
    deviations of `h1`), `fixed` points over the data; where given, snapshots of `frames` (one
    field of one trajectory at `times`, over `extent`), the PCA spectrum `ratio` beside
    `paper_ratio`, and `lorenz` = `{title: (X, Y, Z) trajectories}`."""
    h, m = series["data"], series["data"].shape[-1]
    figures = [
        ("phase_portraits", portrait_grid(series),
         f"Trajectories (PCA m = {m}) and rollouts of the learned models from the same "
         "first snapshots, first three coordinates."),
        ("learned_energy", energy_figure(energy, h, t, extent=2.5 * float(np.std(h[..., 0]))),
         "OnsagerNet's learned potential V along the trajectories (left) and on the "
         "plane h3 = ... = 0 (right)."),
        ("fixed_points", fixed_point_figure(fixed, h),
         "Fixed points of the learned OnsagerNet over the data."),
    ]  # fmt: skip
    if frames is not None:
        figures.append(("temperature_snapshots", field_snapshots(t, frames, times, extent),
                        "Temperature departure theta of one trajectory."))  # fmt: skip
    if ratio is not None:
        figures.append(("pca_variance", variance_bars(ratio, paper_ratio),
                        "Explained variance of the principal components."))  # fmt: skip
    if lorenz is not None:
        figures.append(("lorenz_truncation", side_by_side(lorenz), "The data's (X, Z) Lorenz "
                        "coordinates and the three-mode truncation's prediction."))  # fmt: skip
    return figures
