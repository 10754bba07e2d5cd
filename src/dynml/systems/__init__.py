"""Ground-truth dynamics and problems: pure vector fields, potentials, targets, simulators.

`systems` imports nothing from the science packages; each module is one system.
"""
