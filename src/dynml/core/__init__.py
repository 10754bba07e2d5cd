"""Shared machinery: ODE solving, training, data, networks, run records and figures."""

from .compile import CompileStats, enable_persistent_cache
from .data import Trajectories
from .field import AbstractVectorField, as_field
from .io import load_model, save_model
from .nn import ACTIVATIONS, MLP, ResMLP, activation, count_params
from .solve import (
    ONE_STEP,
    SOLVERS,
    TABLEAUS,
    euler_step,
    heun_step,
    one_step,
    rk4_step,
    rk_step,
    solve,
    solve_sde,
)
from .train import FitResult, fit

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "ONE_STEP",
    "SOLVERS",
    "TABLEAUS",
    "AbstractVectorField",
    "CompileStats",
    "FitResult",
    "ResMLP",
    "Trajectories",
    "activation",
    "as_field",
    "count_params",
    "enable_persistent_cache",
    "euler_step",
    "fit",
    "heun_step",
    "load_model",
    "one_step",
    "rk4_step",
    "rk_step",
    "save_model",
    "solve",
    "solve_sde",
]
