"""SGD as a dynamical system: stochastic modified equations, controlled SGD, batch norm on GD."""

from .bn import OLS, bngd, gd, random_ols
from .csgd import cmsgd, cmsgd_feedback, csgd, csgd_feedback, quadratic_model
from .sme import (
    PerSampleLoss,
    coupled_ensembles,
    momentum_sme,
    psd_sqrt,
    sgd_paths,
    sme_diffusion,
    sme_drift,
    stratonovich_drift,
    weak_error,
)

__all__ = [
    "OLS",
    "PerSampleLoss",
    "bngd",
    "cmsgd",
    "cmsgd_feedback",
    "coupled_ensembles",
    "csgd",
    "csgd_feedback",
    "gd",
    "momentum_sme",
    "psd_sqrt",
    "quadratic_model",
    "random_ols",
    "sgd_paths",
    "sme_diffusion",
    "sme_drift",
    "stratonovich_drift",
    "weak_error",
]
