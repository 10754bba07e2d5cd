"""Sequence models (`AbstractSequenceModel`: linear RNN, RNN, GRU, temporal CNNs, causal
transformer) and their memory;
kernel approximation, tensor-train spectra and training plateaus (Li, Han, E, Li 2021;
Jiang, Li, Li 2021)."""

from .base import AbstractSequenceModel
from .causal_conv import CausalConv1d
from .ensemble import EnsembleResult, train_ensemble
from .exp_fit import (
    ExpFit,
    HalfLineQuadrature,
    decay_fits,
    exp_sum_kernel,
    fit_exp_sum,
    fit_exp_sums,
    perturbed_error,
)
from .gru import GRU
from .linear_rnn import DiagonalLinearRNN, LinearRNN
from .memory import (
    best_rnn_kernels,
    ensemble_kernels,
    exp_sum_rnn,
    fit_kernels,
    impulse_response,
    l1_relative_error,
    model_kernel,
    relative_error,
    stack,
    tt_ranks,
    tt_singular_values,
    white_noise_loss,
)
from .plateau import (
    EscapeFits,
    escape_time,
    fit_escape_times,
    fit_log_line,
    hitting_time,
    log_spaced_steps,
    longest_plateau,
)
from .residual_tcn import ResidualTCN, TemporalBlock, tcn_levels, tcn_receptive_field
from .rnn import RNN
from .tcn import TemporalCNN
from .transformer import CausalTransformer

__all__ = [
    "AbstractSequenceModel",
    "CausalConv1d",
    "GRU",
    "ResidualTCN",
    "TemporalBlock",
    "tcn_levels",
    "tcn_receptive_field",
    "DiagonalLinearRNN",
    "EnsembleResult",
    "EscapeFits",
    "escape_time",
    "fit_escape_times",
    "train_ensemble",
    "ExpFit",
    "HalfLineQuadrature",
    "decay_fits",
    "exp_sum_kernel",
    "fit_exp_sum",
    "fit_exp_sums",
    "perturbed_error",
    "RNN",
    "CausalTransformer",
    "LinearRNN",
    "TemporalCNN",
    "best_rnn_kernels",
    "ensemble_kernels",
    "exp_sum_rnn",
    "fit_kernels",
    "fit_log_line",
    "hitting_time",
    "impulse_response",
    "l1_relative_error",
    "log_spaced_steps",
    "longest_plateau",
    "model_kernel",
    "relative_error",
    "stack",
    "tt_ranks",
    "tt_singular_values",
    "white_noise_loss",
]
