"""Grid references for rare events: the committor of a 2-D potential and a 2-D quasipotential.

Committor (Li, Lin & Ren, J. Chem. Phys. 151, 054112, 2019): for `dx = −∇V dt + √(2/β) dW`,
`q` minimises `∫|∇q|² e^{−βV} dx` with `q = 0` on A and `q = 1` on B, i.e. it solves
`∇·(e^{−βV}∇q) = 0` with no flux through the box boundary. We discretise the Dirichlet
form on a regular grid, `Σ_edges w_e (q_i − q_j)²` with `w_e = e^{−βV(edge midpoint)}`
(a finite-volume scheme, second order for smooth `V`), and solve the sparse SPD system for
the free nodes. The rate is `ν_AB = (βZ)⁻¹ ∫|∇q|² e^{−βV} dx`, `Z = ∫ e^{−βV} dx` over the box.

Quasipotential (Freidlin–Wentzell): for `dx = b dt + √ε dW`,
`U(x) = inf ∫ (|b||φ'| − b·φ') ds` over paths from the attractor to `x`. We take the grid
graph whose edges join every node to the nodes within a stencil of radius `K` cells, with
the straight-segment geometric action `|b_m||Δx| − b_m·Δx` (`b_m` at the edge midpoint) as
edge cost, and run Dijkstra from the attractor nodes. Growing `K ∝ h^{-1/2}` as the grid is
refined makes both the direction and the quadrature errors vanish (first order in `h`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from math import gcd

import jax
import numpy as np
import scipy.sparse as sp
from scipy.interpolate import RegularGridInterpolator
from scipy.linalg import solve_continuous_lyapunov
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import spsolve

Domain = tuple[tuple[float, float], tuple[float, float]]
_MAX_EXPONENT = 600.0  # e^{-600}: keeps edge weights of unreachable corners positive


def _evaluate(fn: Callable, points: np.ndarray) -> np.ndarray:
    """`fn(points)` in float64 (JAX functions run with x64 enabled for this call)."""
    with jax.enable_x64(True):
        return np.asarray(fn(np.asarray(points, dtype=np.float64)), dtype=np.float64)


def _grid(domain: Domain, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(n, int | np.integer) or n < 3:
        raise ValueError(f"grid size n must be an integer >= 3, got {n!r}")
    (x0, x1), (y0, y1) = domain
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"domain must be ((x0, x1), (y0, y1)) with x1 > x0, y1 > y0, got {domain}")
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx, gy], axis=-1)


def _interpolate(xs, ys, values, points) -> np.ndarray:
    """Bilinear interpolation of `values[j, i]` at points `(..., 2)` clipped to the box."""
    p = np.asarray(points, dtype=np.float64)[..., :2].reshape(-1, 2)
    p = np.clip(p, [xs[0], ys[0]], [xs[-1], ys[-1]])
    out = RegularGridInterpolator((ys, xs), values)(p[:, ::-1])
    return out.reshape(np.shape(points)[:-1])


@dataclass(frozen=True)
class GridCommittor:
    """A grid committor: nodal values `q[j, i]` at `(xs[i], ys[j])`, the rate and friends.

    `rate` is `ν_AB`; `reactive_probability` is `∫ q(1 − q) e^{−βV} / Z`, the probability
    that the process is on a reactive trajectory at a given time. Calling it interpolates
    `q` (bilinear) at points `(..., d)` (first two coordinates, clipped to the box).
    """

    xs: np.ndarray
    ys: np.ndarray
    q: np.ndarray
    potential: np.ndarray
    in_a: np.ndarray
    in_b: np.ndarray
    beta: float
    rate: float
    reactive_probability: float

    def __call__(self, points) -> np.ndarray:
        return _interpolate(self.xs, self.ys, self.q, points)


def _edge_weights(potential, beta, v_min, starts, ends):
    mid = 0.5 * (starts + ends)
    return np.exp(-np.minimum(beta * (_evaluate(potential, mid) - v_min), _MAX_EXPONENT))


def grid_committor(
    potential: Callable,
    in_a: Callable,
    in_b: Callable,
    *,
    beta: float,
    domain: Domain,
    n: int,
) -> GridCommittor:
    """Committor of `dx = −∇V dt + √(2/β) dW` from A to B on an `n × n` grid of `domain`.

    `potential(points (..., 2)) -> (...)`; `in_a`, `in_b` map points to booleans. Nodes in A
    get `q = 0`, nodes in B `q = 1`; the box boundary is reflecting (no flux).
    """
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    xs, ys, pts = _grid(domain, n)
    hx, hy = xs[1] - xs[0], ys[1] - ys[0]
    v = _evaluate(potential, pts)
    a = np.asarray(_evaluate(in_a, pts), dtype=bool)
    b = np.asarray(_evaluate(in_b, pts), dtype=bool)
    if not a.any() or not b.any():
        raise ValueError("A and B must each contain at least one grid node; refine the grid")
    if (a & b).any():
        raise ValueError("A and B overlap")
    v_min = v.min()
    idx = np.arange(n * n).reshape(n, n)
    flat = pts.reshape(-1, 2)
    rows, cols, weights = [], [], []
    for ia, ib, ratio in ((idx[:, :-1], idx[:, 1:], hy / hx), (idx[:-1, :], idx[1:, :], hx / hy)):
        i, j = ia.ravel(), ib.ravel()
        rows.append(i)
        cols.append(j)
        weights.append(ratio * _edge_weights(potential, beta, v_min, flat[i], flat[j]))
    i, j, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(weights)
    m = n * n
    off = sp.coo_matrix((-w, (i, j)), shape=(m, m))
    lap = (off + off.T).tocsr()
    lap = lap + sp.diags(-np.asarray(lap.sum(axis=1)).ravel())
    q = b.ravel().astype(np.float64)
    free = ~(a | b).ravel()
    rhs = -lap[free][:, b.ravel()] @ np.ones(b.sum())
    q[free] = spsolve(lap[free][:, free].tocsc(), rhs)
    boltzmann = np.exp(-beta * (v - v_min)).ravel()
    z = boltzmann.sum() * hx * hy
    dirichlet = float(q @ (lap @ q))
    rate = dirichlet / (beta * z)
    reactive = float(np.sum(q * (1 - q) * boltzmann) / boltzmann.sum())
    return GridCommittor(xs, ys, q.reshape(n, n), v, a, b, beta, rate, reactive)


@dataclass(frozen=True)
class GridQuasipotential:
    """Grid quasipotential `U[j, i]` at `(xs[i], ys[j])`; calling it interpolates (bilinear)."""

    xs: np.ndarray
    ys: np.ndarray
    u: np.ndarray
    stencil: int

    def __call__(self, points) -> np.ndarray:
        return _interpolate(self.xs, self.ys, self.u, points)


def _stencil(radius: int) -> np.ndarray:
    """Primitive lattice vectors `(di, dj)` with `0 < |(di, dj)| ≤ radius`."""
    r = range(-radius, radius + 1)
    return np.array(
        [(i, j) for i in r for j in r if (i or j) and i * i + j * j <= radius**2 and gcd(i, j) == 1]
    )


def lyapunov_quadratic(jacobian) -> np.ndarray:
    """`Σ⁻¹/2` with `JΣ + ΣJᵀ + I = 0`: near a stable point `x*` with `J = ∇b(x*)` the
    quasipotential is `U ≈ ½ δxᵀ Σ⁻¹ δx` (Freidlin & Wentzell), so this is `∇²U(x*)/2`."""
    jac = np.asarray(jacobian, dtype=np.float64)
    sigma = solve_continuous_lyapunov(jac, -np.eye(jac.shape[0]))
    return 0.5 * np.linalg.inv(sigma)


def _local_quasipotential(field: Callable, point: np.ndarray) -> np.ndarray:
    """`lyapunov_quadratic` of the central-difference Jacobian of a 2-D `field` at `point`."""
    eps = 1e-6
    jac = np.stack(
        [
            (_evaluate(field, point + eps * e) - _evaluate(field, point - eps * e)) / (2 * eps)
            for e in np.eye(2)
        ],
        axis=1,
    )
    return lyapunov_quadratic(jac)


def grid_quasipotential(
    field: Callable,
    attractors,
    *,
    domain: Domain,
    n: int,
    stencil: int | None = None,
    init_radius: float | None = None,
) -> GridQuasipotential:
    """Quasipotential of `dx = b dt + √ε dW` on an `n × n` grid, zero at the `attractors`.

    `field(points (..., 2)) -> (..., 2)`. Nodes within `init_radius` (default `2Kh`) of an
    attractor start from the quadratic approximation `½ δxᵀ Σ⁻¹ δx` of the linearised
    dynamics (the Lyapunov equation `JΣ + ΣJᵀ + I = 0`), the usual initialisation of
    ordered upwind solvers; Dijkstra then runs from them. `stencil` is the edge radius in
    cells (default `round(√n / 2)`, i.e. `K ∝ h^{-1/2}`). Paths are confined to the box.
    """
    xs, ys, pts = _grid(domain, n)
    k = max(1, round(np.sqrt(n) / 2)) if stencil is None else int(stencil)
    if k < 1:
        raise ValueError(f"stencil radius must be >= 1, got {stencil}")
    h = max(xs[1] - xs[0], ys[1] - ys[0])
    radius = 2 * k * h if init_radius is None else float(init_radius)
    flat = pts.reshape(-1, 2)
    m = n * n
    idx = np.arange(m).reshape(n, n)
    rows, cols, costs = [], [], []
    for di, dj in _stencil(k):
        i0, i1 = max(0, -di), n - max(0, di)
        j0, j1 = max(0, -dj), n - max(0, dj)
        src = idx[j0:j1, i0:i1].ravel()
        dst = idx[j0 + dj : j1 + dj, i0 + di : i1 + di].ravel()
        step = flat[dst] - flat[src]
        b = _evaluate(field, 0.5 * (flat[src] + flat[dst]))
        action = np.linalg.norm(b, axis=-1) * np.linalg.norm(step, axis=-1)
        action -= np.sum(b * step, axis=-1)
        rows.append(src)
        cols.append(dst)
        costs.append(np.maximum(action, 0.0) + 1e-300)
    for p in np.atleast_2d(np.asarray(attractors, dtype=np.float64)):
        delta = flat - p
        near = np.flatnonzero(np.sum(delta**2, axis=-1) <= max(radius, h) ** 2)
        near = near if near.size else np.array([np.argmin(np.sum(delta**2, axis=-1))])
        quad = _local_quasipotential(field, p)
        rows.append(np.full(near.size, m))
        cols.append(near)
        costs.append(np.einsum("ni,ij,nj->n", delta[near], quad, delta[near]) + 1e-300)
    graph = sp.csr_matrix(
        (np.concatenate(costs), (np.concatenate(rows), np.concatenate(cols))), shape=(m + 1,) * 2
    )
    u = dijkstra(graph, directed=True, indices=m)[:m]
    return GridQuasipotential(xs, ys, u.reshape(n, n), k)
