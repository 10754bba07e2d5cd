"""Training as optimal control: PMP, (extended) MSA, discrete-weight MSA, mean-field LQ."""

from . import attacks, closed_loop, discrete, hjb, pmp
from .layers import AvgPool, ChannelMean, Conv, ConvResidual, Dense, Flatten, Residual
from .msa import MSA, extended_hamiltonian, gradient_seconds_per_step, maximise_hamiltonian, msa_fit

__all__ = [
    "attacks",
    "closed_loop",
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
