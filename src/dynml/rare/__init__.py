"""Rare events: neural committors and quasipotentials, sampling, and grid references."""

from .committor import (
    NeuralCommittor,
    committor_rate,
    committor_values,
    disc_indicator,
    penalised_loss,
    variational_loss,
)
from .quasipotential import (
    DecomposedField,
    decomposition_loss,
    learned_quasipotential,
    one_step_loss,
    orthogonality_loss,
    orthogonality_residual,
)
from .reference import GridCommittor, GridQuasipotential, grid_committor, grid_quasipotential
from .sampling import (
    GaussianBias,
    langevin_chains,
    metadynamics_bias,
    metadynamics_weights,
    temperature_weights,
)

__all__ = [
    "DecomposedField",
    "GaussianBias",
    "GridCommittor",
    "GridQuasipotential",
    "NeuralCommittor",
    "committor_rate",
    "committor_values",
    "decomposition_loss",
    "disc_indicator",
    "grid_committor",
    "grid_quasipotential",
    "langevin_chains",
    "learned_quasipotential",
    "metadynamics_bias",
    "metadynamics_weights",
    "one_step_loss",
    "orthogonality_loss",
    "orthogonality_residual",
    "penalised_loss",
    "temperature_weights",
    "variational_loss",
]
