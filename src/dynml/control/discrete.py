"""Binary and ternary weight networks trained by MSA (Li & Hao, ICML 2018), and a
straight-through (BinaryConnect-style) gradient baseline.

The net alternates linear layers `x ↦ W x` with discrete `W` and batch-norm + activation
layers. For a linear layer the Hamiltonian is linear in `W`, `H_t = Σ_ij W_ij M_ij` with
`M = ∂H_t/∂W = Σ_s p_{s,t+1} x_{s,t}ᵀ`, so its maximisation over discrete weights is closed form.
Following the paper, `M` is an exponential moving average over mini-batches (decay `α`,
`α ← 1 − 0.95(1 − α)` each epoch) and each move is damped by

    ρ_k = ρ · max{|M_ij| : sign(M_ij) ≠ W_ij},

- binary:  `W_ij ← sign(M_ij)` where `|M_ij| > ρ_k`, else unchanged;
- ternary: `W = argmax_{θ∈{−1,0,1}} M θ − ρ_k (θ − W_old)² − λ|θ|`, i.e. `+1` if
  `M > ρ_k(1 − 2W_old) + λ`, `−1` if `M < −ρ_k(1 + 2W_old) − λ`, else `0`.

Batch-norm scales and shifts (continuous) follow Adam ascent on `Σ_t H_t`.

Two scales decide whether ternary weights become sparse. (i) The EMA of `M` must forget: the
paper anneals `α` once per epoch, and its MNIST epochs have 550 steps, so with `α₀ = 0.999`
the average spans `1/((1 − α₀)·550) ≈ 1.8` epochs and tracks `M` for some 50 epochs before it
freezes. With few steps per epoch (14 on the 8×8 digits) the same `α₀` adds up to
`Σ_k (1 − α_k) ≈ 0.3` steps in all: `M` is frozen at its first mini-batches and so is the
density. `matched_alpha0` keeps the paper's span in epochs. (ii) `λ` is absolute: it prunes a
weight when it is comparable to `ρ_k`, i.e. to the scale of `M`, which shrinks as the loss falls
and depends on the widths (`λ = 1e-7` is the paper's for 2048-wide MNIST layers).
"""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

from ..core.nn import activation
from .pmp import Terminal, states_and_costates, total_hamiltonian

QUANTISERS = ("none", "binary", "ternary")


def _straight_through(w: Array, quantise: str) -> Array:
    """Quantised weights forward; gradient of `clip(w, −1, 1)` backward (BinaryConnect)."""
    if quantise == "none":
        return w
    clipped = jnp.clip(w, -1.0, 1.0)
    q = jnp.where(w >= 0, 1.0, -1.0) if quantise == "binary" else jnp.round(clipped)
    return clipped + jax.lax.stop_gradient(q - clipped)


class DiscreteLinear(eqx.Module):
    """`x ↦ x Wᵀ` (no bias). `quantise="none"` uses `W` as stored (discrete values under MSA,
    real under Adam); `"binary"`/`"ternary"` quantise a real latent `W` with a straight-through
    gradient."""

    weight: Float[Array, "out inp"]
    quantise: str = eqx.field(static=True)

    def __call__(self, x: Float[Array, "S inp"]) -> Float[Array, "S out"]:
        return x @ _straight_through(self.weight, self.quantise).T

    def effective_weight(self) -> Float[Array, "out inp"]:
        return jax.lax.stop_gradient(_straight_through(self.weight, self.quantise))


class BatchNormAct(eqx.Module):
    """`σ(γ (z − μ)/√(v + ε) + β)` with batch statistics (or those of a reference batch)."""

    gamma: Float[Array, " dim"]
    beta: Float[Array, " dim"]
    act: str = eqx.field(static=True)

    def __call__(
        self, z: Float[Array, "S dim"], ref: Float[Array, "R dim"] | None = None
    ) -> Float[Array, "S dim"]:
        stats = z if ref is None else ref
        mu, var = stats.mean(axis=0), stats.var(axis=0)
        return activation(self.act)(self.gamma * (z - mu) / jnp.sqrt(var + 1e-5) + self.beta)


def discrete_mlp(
    sizes, *, key, weights="binary", quantise="none", activation="tanh", density: float = 1.0
):
    """Layers `Linear, BN+σ, ..., Linear, BN` for widths `sizes` (last BN without activation).

    `weights`: `"binary"` (random ±1), `"ternary"` (random ±1, each kept with probability
    `density`, else 0) or `"real"` (`U(−1, 1)`, for Adam or the straight-through baseline;
    the batch norm after each layer makes the scale irrelevant).
    """
    if weights not in ("binary", "ternary", "real") or quantise not in QUANTISERS:
        raise ValueError(
            f"weights must be binary/ternary/real and quantise one of {QUANTISERS}, "
            f"got {weights!r}, {quantise!r}"
        )
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density}")
    layers = []
    keys = jax.random.split(key, len(sizes) - 1)
    for i, (k, n_in, n_out) in enumerate(zip(keys, sizes[:-1], sizes[1:], strict=True)):
        w = jax.random.uniform(k, (n_out, n_in), minval=-1.0, maxval=1.0)
        if weights != "real":
            keep = jax.random.uniform(jax.random.fold_in(k, 1), w.shape) < density
            w = jnp.where(w >= 0, 1.0, -1.0) * (keep if weights == "ternary" else 1.0)
        last = i == len(sizes) - 2
        layers += [
            DiscreteLinear(w, quantise),
            BatchNormAct(jnp.ones(n_out), jnp.zeros(n_out), "identity" if last else activation),
        ]
    return tuple(layers)


def predict(
    layers: tuple, x_ref: Float[Array, "R inp"], x: Float[Array, "S inp"]
) -> Float[Array, "S out"]:
    """Network output on `x` with batch-norm statistics taken from the reference set `x_ref`."""
    for layer in layers:
        if isinstance(layer, BatchNormAct):
            x, x_ref = layer(x, x_ref), layer(x_ref)
        else:
            x, x_ref = layer(x), layer(x_ref)
    return x


def matched_alpha0(
    steps_per_epoch: int, paper_alpha0: float = 0.999, paper_steps_per_epoch: int = 550
) -> float:
    """`α₀ = 1 − (1 − α_paper)·n_paper/n`: the EMA decay whose average spans as many epochs
    with `n = steps_per_epoch` steps as the paper's `α_paper = 0.999` does with `n_paper = 550`
    (MNIST, batch 100; Li & Hao 2018)."""
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be a positive integer, got {steps_per_epoch}")
    return max(0.0, 1.0 - (1.0 - paper_alpha0) * paper_steps_per_epoch / steps_per_epoch)


def binary_update(
    M: Float[Array, "out inp"], W: Float[Array, "out inp"], rho_k: Float[Array, ""]
) -> Float[Array, "out inp"]:
    """`W ← sign(M)` where `|M| > ρ_k`, else `W`."""
    return jnp.where(jnp.abs(M) > rho_k, jnp.sign(M), W)


def ternary_update(
    M: Float[Array, "out inp"], W: Float[Array, "out inp"], rho_k: Float[Array, ""], lam: float
) -> Float[Array, "out inp"]:
    """Closed-form `argmax_{θ∈{−1,0,1}} M θ − ρ_k(θ − W)² − λ|θ|` (elementwise)."""
    plus = M > rho_k * (1 - 2 * W) + lam
    minus = M < -rho_k * (1 + 2 * W) - lam
    return jnp.where(plus, 1.0, jnp.where(minus, -1.0, 0.0))


def damping(M: Float[Array, "out inp"], W: Float[Array, "out inp"], rho: float) -> Float[Array, ""]:
    """`ρ_k = ρ · max{|M_ij| : sign(M_ij) ≠ W_ij}` (0 if all signs agree)."""
    return rho * jnp.max(jnp.where(jnp.sign(M) != W, jnp.abs(M), 0.0))


class DiscreteMSAState(NamedTuple):
    moving: tuple  # M per linear layer
    bn_state: optax.OptState
    step: Array


class DiscreteMSA(NamedTuple):
    """Discrete-weight MSA with the interface of `MSA` (`init`, `update`; works with `msa_fit`).

    Defaults from the paper's code: binary `ρ = 0.5`, ternary `ρ = 0.25`, `λ = 1e-7`,
    `α₀ = 0.999`. `steps_per_epoch` sets when `α` is annealed.
    """

    kind: str = "binary"
    rho: float = 0.5
    lam: float = 1e-7
    alpha0: float = 0.999
    alpha_decay: float = 0.95
    steps_per_epoch: int = 1
    bn_lr: float = 1e-3

    def init(self, layers) -> DiscreteMSAState:
        if self.kind not in ("binary", "ternary"):
            raise ValueError(f"kind must be 'binary' or 'ternary', got {self.kind!r}")
        moving = tuple(jnp.zeros_like(l.weight) for l in layers if isinstance(l, DiscreteLinear))
        bn = tuple(l for l in layers if isinstance(l, BatchNormAct))
        return DiscreteMSAState(moving, optax.adam(self.bn_lr).init(bn), jnp.array(0))

    def update(self, layers, state: DiscreteMSAState, batch, terminal: Terminal):
        x, y = batch
        value, xs, ps = states_and_costates(layers, x, y, terminal)
        grads = jax.grad(lambda ls: total_hamiltonian(ls, xs, ps))(layers)
        epoch = state.step // self.steps_per_epoch
        alpha = 1 - (1 - self.alpha0) * self.alpha_decay**epoch
        lin = [i for i, l in enumerate(layers) if isinstance(l, DiscreteLinear)]
        bn = [i for i, l in enumerate(layers) if isinstance(l, BatchNormAct)]
        new = list(layers)
        moving = []
        for i, m_old in zip(lin, state.moving, strict=True):
            m = alpha * m_old + (1 - alpha) * grads[i].weight
            w = layers[i].weight
            rho_k = damping(m, w, self.rho)
            if self.kind == "binary":
                w = binary_update(m, w, rho_k)
            else:
                w = ternary_update(m, w, rho_k, self.lam)
            new[i] = eqx.tree_at(lambda l: l.weight, layers[i], w)
            moving.append(m)
        bn_params = tuple(layers[i] for i in bn)
        ascent = jax.tree_util.tree_map(jnp.negative, tuple(grads[i] for i in bn))
        updates, bn_state = optax.adam(self.bn_lr).update(ascent, state.bn_state, bn_params)
        for i, layer in zip(bn, optax.apply_updates(bn_params, updates), strict=True):
            new[i] = layer
        return tuple(new), DiscreteMSAState(tuple(moving), bn_state, state.step + 1), value


def nonzero_fraction(layers: tuple) -> Float[Array, ""]:
    """Fraction of non-zero effective weights over all linear layers."""
    ws = [l.effective_weight() for l in layers if isinstance(l, DiscreteLinear)]
    return sum(jnp.sum(w != 0) for w in ws) / sum(w.size for w in ws)
