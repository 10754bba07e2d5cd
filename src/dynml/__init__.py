"""dynml: machine learning and dynamical systems in JAX.

The three meetings of the two fields (see `docs/architecture.md`):

- ML *via* dynamical systems: `dynml.flows`, `dynml.control`, `dynml.sgd`;
- ML *for* dynamical systems: `dynml.sequence`;
- ML *of* dynamical systems: `dynml.identify`, `dynml.rare`.
"""

__version__ = "0.1.0"
