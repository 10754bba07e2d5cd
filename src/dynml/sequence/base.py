"""`AbstractSequenceModel`: the interface every sequence model of the library implements.

A sequence model is a causal map from inputs `x_0, …, x_{T-1}` (each in `R^in`) to outputs
`ŷ_0, …, ŷ_{T-1}` (each in `R^out`): `ŷ_t` depends on `x_0, …, x_t` only. Subclasses
implement `forward` on one sequence `(time, in)`; `__call__` accepts one sequence or a batch
`(batch, time, in)` (vmapped over the batch), as `diffrax.AbstractSolver` fixes the
interface of its solvers and leaves the step to them.
"""

import abc

import equinox as eqx
import jax
from jaxtyping import Array, Float

from ..core.nn import count_params


class AbstractSequenceModel(eqx.Module):
    """Causal sequence-to-sequence map; `forward(x: (time, in)) -> (time, out)`."""

    @abc.abstractmethod
    def forward(self, x: Float[Array, "n_t in"]) -> Float[Array, "n_t out"]:
        """Outputs of one sequence; `ŷ_t` may depend on `x_{≤t}` only."""

    def __call__(self, x: Float[Array, "*batch n_t in"]) -> Float[Array, "*batch n_t out"]:
        """`forward` on `(time, in)`, or on each sequence of `(batch, time, in)`."""
        if x.ndim == 2:
            return self.forward(x)
        if x.ndim == 3:
            return jax.vmap(self.forward)(x)
        raise ValueError(f"expected (time, in) or (batch, time, in) inputs, got shape {x.shape}")

    def last(self, x: Float[Array, "n_t in"]) -> Float[Array, " out"]:
        """`ŷ_{T-1}` of one sequence, `forward(x)[-1]`; models whose last output needs less
        than the whole forward pass (the TCN) override it."""
        return self.forward(x)[-1]

    @property
    def n_params(self) -> int:
        """Number of trainable scalars (inexact array leaves)."""
        return count_params(self)
