"""Linear stability of the conduction state between free-slip walls (Rayleigh 1916).

In units of the depth `d` and the thermal diffusion time `d^2 / kappa`, a mode
`psi ~ sin(k x) sin(q z)`, `theta ~ cos(k x) sin(q z)` with `K^2 = k^2 + q^2` grows at the
rates `lambda` solving

    lambda^2 + (Pr + 1) K^2 lambda + Pr K^4 - Pr Ra k^2 / K^2 = 0,

so it is unstable when `Ra > K^6 / k^2`; the minimum over `k` (with `q = pi`) is
`Ra_c = 27 pi^4 / 4 ~ 657.5` at `k_c = pi / sqrt(2)` (Chandrasekhar 1961, ch. II).
"""

import numpy as np

RA_CRITICAL = 27.0 * np.pi**4 / 4.0
K_CRITICAL = np.pi / np.sqrt(2.0)


def critical_rayleigh(k, q: float = np.pi):
    """Marginal Rayleigh number `K^6 / k^2` of the mode with wavenumbers `(k, q)`."""
    k = np.asarray(k, dtype=float)
    return (k**2 + q**2) ** 3 / k**2


def growth_rate(k, ra: float, pr: float, q: float = np.pi):
    """Largest growth rate `lambda` (per diffusion time) of the mode `(k, q)`."""
    k = np.asarray(k, dtype=float)
    k2 = k**2 + q**2
    disc = (pr - 1.0) ** 2 * k2**2 + 4.0 * pr * ra * k**2 / k2
    return 0.5 * (-(pr + 1.0) * k2 + np.sqrt(disc))
