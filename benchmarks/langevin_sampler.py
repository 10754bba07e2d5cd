"""Samples per second of the vmapped, jitted overdamped Langevin sampler on the Müller potential.

Run: `.venv/bin/python benchmarks/langevin_sampler.py`. Prints chain-steps per second for
Euler–Maruyama and MALA at a few chain counts; each call compiles its own scan, so the
timed runs are long enough (10⁴ steps per chain) for compilation to be a small part.
"""

import time

import jax
import jax.numpy as jnp

from dynml.rare import langevin_chains
from dynml.systems import mueller as M


def main() -> None:
    for metropolis in (False, True):
        for chains in (10, 100, 1000):
            x0 = jnp.tile(jnp.array(M.CENTER_A), (chains, 1))
            kwargs = dict(beta=0.05, dt=1e-4, n_samples=500, thin=20, metropolis=metropolis)
            start = time.perf_counter()
            langevin_chains(M.mueller, x0, key=jax.random.PRNGKey(1), **kwargs).block_until_ready()
            elapsed = time.perf_counter() - start
            steps = chains * 500 * 20
            name = "MALA" if metropolis else "Euler-Maruyama"
            print(f"{name:15s} chains={chains:5d}  {steps / elapsed:12.0f} chain-steps/s")


if __name__ == "__main__":
    main()
