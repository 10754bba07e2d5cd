"""Figure helpers shared by experiments: phase portraits, contour maps, curves."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def figure(ncols: int = 1, nrows: int = 1, size: float = 4.0, **kwargs):
    """A figure with a grid of axes, each about `size` inches square (constrained layout, so
    labels, legends and colour bars never overlap)."""
    kwargs.setdefault("layout", "constrained")
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), **kwargs)
    return fig, axes


def phase_portrait(ax, trajectories, dims=(0, 1), title: str = "", **kwargs):
    """Draw trajectories `(n_traj, n_t, dim)` projected on two coordinates."""
    x = np.asarray(trajectories)
    i, j = dims
    style = {"lw": 0.6, "alpha": 0.8} | kwargs
    for traj in x:
        ax.plot(traj[:, i], traj[:, j], **style)
    ax.set_xlabel(f"$x_{i + 1}$")
    ax.set_ylabel(f"$x_{j + 1}$")
    if title:
        ax.set_title(title)
    return ax


def contour_map(ax, xs, ys, values, *, levels=20, title: str = "", colorbar: bool = True, **kw):
    """Filled contours of `values[len(ys), len(xs)]` on the grid `xs x ys`."""
    cs = ax.contourf(np.asarray(xs), np.asarray(ys), np.asarray(values), levels=levels, **kw)
    if colorbar:
        ax.figure.colorbar(cs, ax=ax)
    if title:
        ax.set_title(title)
    return cs


def curves(ax, x, series: dict, *, logx=False, logy=False, xlabel="", ylabel="", title=""):
    """Several named curves over a shared `x` (or per-curve `(x, y)` pairs)."""
    for name, y in series.items():
        xi, yi = y if isinstance(y, tuple) else (x, y)
        ax.plot(np.asarray(xi), np.asarray(yi), label=name)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if series:
        ax.legend(fontsize=8)
    return ax


def loglog_slope(x, y) -> float:
    """Least-squares slope of `log y` against `log x` (convergence orders, scaling laws)."""
    return float(np.polyfit(np.log(np.asarray(x)), np.log(np.asarray(y)), 1)[0])
