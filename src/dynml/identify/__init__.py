"""Learning stable, interpretable dynamics from trajectories (OnsagerNet and its baselines)."""

from .analysis import (
    FixedPoints,
    LimitCycle,
    bounded_fraction,
    find_fixed_points,
    find_limit_cycle,
    flow_map,
    histogram_distance,
    jacobian_eigenvalues,
    match_fixed_points,
    rollout,
)
from .baselines import MLPODE, DissipativeHamiltonianNet, SINDy
from .onsager import FORCINGS, OnsagerNet
from .stochastic import StochasticOnsagerNet, em_log_likelihood, sde_nll, simulate_sde
from .training import (
    adamw_amsgrad,
    as_pairs,
    ensemble,
    ensemble_loss,
    heun_loss,
    member,
    member_losses,
    per_member,
    summed,
    train_vector_field,
)

__all__ = [
    "FORCINGS",
    "MLPODE",
    "DissipativeHamiltonianNet",
    "FixedPoints",
    "LimitCycle",
    "OnsagerNet",
    "SINDy",
    "StochasticOnsagerNet",
    "adamw_amsgrad",
    "as_pairs",
    "bounded_fraction",
    "em_log_likelihood",
    "ensemble",
    "ensemble_loss",
    "find_fixed_points",
    "find_limit_cycle",
    "flow_map",
    "heun_loss",
    "histogram_distance",
    "jacobian_eigenvalues",
    "match_fixed_points",
    "member",
    "member_losses",
    "per_member",
    "rollout",
    "sde_nll",
    "simulate_sde",
    "summed",
    "train_vector_field",
]
