"""2-D Rayleigh–Bénard convection: free-slip pseudo-spectral simulator, linear theory, Lorenz."""

from .dataset import LORENZ_TIME_SCALE, study_data, study_rbc
from .galerkin import (
    galerkin_lorenz_field,
    lorenz_coordinates,
    lorenz_coordinates_from_fields,
    lorenz_coordinates_from_snapshots,
    lorenz_mode,
    lorenz_parameters,
    lorenz_starts,
    lorenz_state,
)
from .linear import K_CRITICAL, RA_CRITICAL, critical_rayleigh, growth_rate
from .simulator import RBC, partners, simulate
from .spectral import Basis, midpoints, to_grid, to_modes

__all__ = [
    "RBC",
    "K_CRITICAL",
    "RA_CRITICAL",
    "Basis",
    "critical_rayleigh",
    "galerkin_lorenz_field",
    "growth_rate",
    "lorenz_coordinates",
    "lorenz_coordinates_from_fields",
    "lorenz_coordinates_from_snapshots",
    "lorenz_mode",
    "lorenz_parameters",
    "lorenz_starts",
    "lorenz_state",
    "midpoints",
    "partners",
    "simulate",
    "study_data",
    "study_rbc",
    "LORENZ_TIME_SCALE",
    "to_grid",
    "to_modes",
]
