"""Learning stable, interpretable dynamics from trajectories (OnsagerNet and its baselines)."""

from .onsager import FORCINGS, OnsagerNet
from .training import (
    adamw_amsgrad,
    as_pairs,
    ensemble,
    ensemble_loss,
    heun_loss,
    member,
    member_losses,
    per_member,
    train_vector_field,
)

__all__ = [
    "FORCINGS",
    "OnsagerNet",
    "adamw_amsgrad",
    "as_pairs",
    "ensemble",
    "ensemble_loss",
    "heun_loss",
    "member",
    "member_losses",
    "per_member",
    "train_vector_field",
]
