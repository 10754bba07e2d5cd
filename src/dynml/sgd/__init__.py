"""SGD as a dynamical system: stochastic modified equations, controlled SGD, batch norm on GD."""

from .adaptive import M_RULES, cmsgd, cmsgd_feedback, csgd, csgd_feedback, quadratic_model
from .amata import AmataSchedule, adversarial_train, natural_schedule, pgd_schedule
from .bn import OLS, bngd, gd, gd_stability_limit, random_ols
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
    "AmataSchedule",
    "adversarial_train",
    "natural_schedule",
    "pgd_schedule",
    "M_RULES",
    "OLS",
    "PerSampleLoss",
    "bngd",
    "cmsgd",
    "cmsgd_feedback",
    "coupled_ensembles",
    "csgd",
    "csgd_feedback",
    "gd",
    "gd_stability_limit",
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
