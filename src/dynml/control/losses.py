"""Terminal losses `Φ(x_T, y)` of the control view of training, and accuracy.

A terminal loss maps the network's last state and the labels to one loss per sample, shape
`(S,)`; the PMP costate starts from `p_T = −(1/S) ∇Φ(x_T)` (Li & Hao, ICML 2018).
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def cross_entropy(logits: Float[Array, "S k"], y: Int[Array, " S"]) -> Float[Array, " S"]:
    """Softmax cross-entropy per sample, `Φ = −log softmax(x_T)_y`."""
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]


def sum_mse(x_T: Float[Array, "S d"], y: Float[Array, " S"]) -> Float[Array, " S"]:
    """`Φ = (Σ_i x_{T,i} − y)²`: the output is the sum of the last layer's nodes (the E-MSA toy
    problem of Li, Chen, Tai, E, JMLR 2018)."""
    return (x_T.sum(axis=-1) - y) ** 2


def accuracy(logits: Float[Array, "S k"], y: Int[Array, " S"]) -> float:
    """Fraction of samples whose largest logit is the label."""
    return float(jnp.mean(jnp.argmax(logits, axis=1) == y))
