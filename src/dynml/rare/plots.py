"""Figures of a committor study: level sets against the reference, error maps, losses."""

import numpy as np

from ..core import plot
from .reference import GridCommittor


def committor_figures(reference: GridCommittor, learned: dict) -> list[tuple[str, object, str]]:
    """`(name, figure, caption)` for `learned = {scheme: (q on the grid, samples, losses)}`."""
    ref = reference
    vclip = np.minimum(ref.potential, ref.potential.min() + 200)
    fig, axes = plot.figure(1 + len(learned), 1, size=4.2)
    maps = [("grid reference", ref.q)] + [(f"network ({s})", v[0]) for s, v in learned.items()]
    for ax, (name, q) in zip(np.atleast_1d(axes), maps, strict=True):
        ax.contour(ref.xs, ref.ys, vclip, levels=25, colors="0.7", linewidths=0.5)
        cs = ax.contour(ref.xs, ref.ys, q, levels=np.linspace(0.1, 0.9, 9), cmap="coolwarm")
        ax.clabel(cs, fontsize=6)
        ax.set_title(name)
    out = [("committor_contours", fig, "Committor level sets 0.1..0.9 over the potential.")]
    fig, axes = plot.figure(len(learned), 1, size=4.2)
    for ax, (name, (q, x, _)) in zip(np.atleast_1d(axes), learned.items(), strict=True):
        err = np.abs(q - ref.q)
        plot.contour_map(ax, ref.xs, ref.ys, err, levels=20, cmap="magma", title=f"|Δq| ({name})")
        sub = np.asarray(x)[:: max(1, len(x) // 2000)]
        ax.scatter(sub[:, 0], sub[:, 1], s=0.3, c="c", alpha=0.3)
    out.append(("error_map", fig, "|q_net − q_ref| with a subsample of the training points."))
    fig, ax = plot.figure(1)
    curves = {s: (np.arange(len(v[2])), v[2]) for s, v in learned.items()}
    plot.curves(ax, None, curves, logy=True, xlabel="step", ylabel="loss")
    out.append(("loss", fig, "Variational loss during training (warm start, then reweighted)."))
    return out
