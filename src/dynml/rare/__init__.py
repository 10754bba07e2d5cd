"""Rare events: neural committors and quasipotentials, sampling, and grid references.

Entry points: `committor(potential, A, B, beta, ...)` and `quasipotential(drift, x_star, ...)`.
"""

from .committor import (
    NeuralCommittor,
    committor_rate,
    committor_rate_stderr,
    committor_values,
    penalised_loss,
    variational_loss,
)
from .committor_fit import CommittorFit, SamplingSettings, TrainingSettings, committor
from .quasipotential import (
    DecomposedField,
    decomposition_loss,
    learned_quasipotential,
    one_step_loss,
    orthogonality_loss,
    orthogonality_residual,
)
from .quasipotential_fit import QuasipotentialFit, QuasipotentialSettings, quasipotential
from .reference import GridCommittor, GridQuasipotential, grid_committor, grid_quasipotential
from .regions import Disc, Region, disc, membership, smooth_indicator
from .sampling import (
    GaussianBias,
    langevin_chains,
    metadynamics_bias,
    metadynamics_weights,
    temperature_weights,
)

__all__ = [
    "CommittorFit",
    "DecomposedField",
    "Disc",
    "GaussianBias",
    "GridCommittor",
    "GridQuasipotential",
    "NeuralCommittor",
    "QuasipotentialFit",
    "QuasipotentialSettings",
    "Region",
    "SamplingSettings",
    "TrainingSettings",
    "committor",
    "committor_rate",
    "committor_rate_stderr",
    "committor_values",
    "decomposition_loss",
    "disc",
    "grid_committor",
    "grid_quasipotential",
    "langevin_chains",
    "learned_quasipotential",
    "membership",
    "metadynamics_bias",
    "metadynamics_weights",
    "one_step_loss",
    "orthogonality_loss",
    "orthogonality_residual",
    "penalised_loss",
    "quasipotential",
    "smooth_indicator",
    "temperature_weights",
    "variational_loss",
]
