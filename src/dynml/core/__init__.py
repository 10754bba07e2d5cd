"""Shared machinery: ODE solving, training, data, networks, run records and figures."""

from .data import Trajectories
from .nn import ACTIVATIONS, MLP, ResMLP, activation, count_params
from .solve import ONE_STEP, SOLVERS, euler_step, heun_step, one_step, rk4_step, solve
from .train import FitResult, fit

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "ONE_STEP",
    "SOLVERS",
    "FitResult",
    "ResMLP",
    "Trajectories",
    "activation",
    "count_params",
    "euler_step",
    "fit",
    "heun_step",
    "one_step",
    "rk4_step",
    "solve",
]
