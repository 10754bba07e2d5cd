"""Training as optimal control: PMP, (extended) MSA, discrete-weight MSA, mean-field LQ."""

from . import discrete, hjb, pmp
from .layers import AvgPool, ChannelMean, Conv, ConvResidual, Dense, Flatten, Residual
from .msa import MSA, extended_hamiltonian, gradient_seconds_per_step, maximise_hamiltonian, msa_fit

__all__ = [
    "MSA",
    "AvgPool",
    "ChannelMean",
    "Conv",
    "ConvResidual",
    "Dense",
    "Flatten",
    "Residual",
    "discrete",
    "extended_hamiltonian",
    "gradient_seconds_per_step",
    "hjb",
    "maximise_hamiltonian",
    "msa_fit",
    "pmp",
]
