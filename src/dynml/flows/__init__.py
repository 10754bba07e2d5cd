"""ML via dynamical systems: continuous-time ResNets (flow maps as function approximators).

Hypothesis space `H(F, G) = {g o phi_T}`: a neural vector field `f(x, t; theta)` generates the
flow map `phi_T`, and a readout `g` from a small family `G` (linear here) finishes the job
(Li, Lin, Shen 2019, arXiv 1912.10382).
"""

from .field import NeuralField
from .flow_model import FlowModel, binary_cross_entropy, mean_squared_error, predict

__all__ = ["FlowModel", "NeuralField", "binary_cross_entropy", "mean_squared_error", "predict"]
