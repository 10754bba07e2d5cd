"""Time K seeds trained together (`fit(..., seeds=K)`, vmapped) against K `fit` calls in turn.

The task is the OnsagerNet Lorenz protocol of Yu et al. 2021 (the `onsager-lorenz`
experiment's model and loss): an OnsagerNet (width 20: 356 parameters) fitted by the one-step
Heun loss to 8000 pairs with Adam, at the paper's batch 200 and at other batch sizes and
widths, so the ratio can be read against how much work one step does. Both ways compile
before timing (the sequential fits share one compiled chunk; the timed calls must compile
nothing, which is checked), both give every seed the same steps, and the final losses agree
seed by seed. For each setting it prints the wall and the process CPU time of both ways and
their ratios vmapped / sequential (the issue's target: <= 0.4 on 2 cores), measured side by
side in this process, with the load average at the start (other processes inflate wall time;
CPU time is less sensitive to them).

A vmapped step does the work of K steps in one call: it saves the fixed cost of a step
(dispatch, loop bookkeeping, the optimiser's small ops), not the arithmetic of the model. So
the ratio falls towards 1/K when a step is overhead-bound (small batches, small models) and
rises towards 1 when it is compute-bound.

    .venv/bin/python benchmarks/seed_ensemble.py [--seeds 8] [--steps 200]
        [--batch-sizes 25,200,1000] [--widths 20] [--repeats 2]
"""

import argparse
import os
import time

import jax
import numpy as np

from dynml.core import CompileStats, fit
from dynml.identify import OnsagerNet, as_pairs, heun_loss

os.environ.setdefault("DYNML_PROGRESS", "0")


def _pairs(n: int = 8000):
    rng = np.random.default_rng(0)
    h1 = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    drift = np.stack([h1[:, 1] - h1[:, 0], h1[:, 0] - h1[:, 1] - h1[:, 0] * h1[:, 2], -h1[:, 2]])
    return as_pairs(h1, h1 + 1e-2 * drift.T.astype(np.float32), 1e-2)


def _timed(fn, repeats: int):
    """Best wall and CPU seconds of `repeats` calls after one warm-up; the compilations seen."""
    fn()
    best_wall = best_cpu = float("inf")
    stats = CompileStats()
    with stats:
        for _ in range(repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            out = fn()
            best_wall = min(best_wall, time.perf_counter() - wall)
            best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, out, stats.executables


def compare(pairs, n_seeds: int, width: int, batch: int, steps: int, repeats: int) -> dict:
    """Wall and CPU time of `n_seeds` vmapped seeds and of the same seeds one by one."""
    build = lambda key: OnsagerNet(3, width, key=key)
    keys = jax.random.split(jax.random.PRNGKey(0), n_seeds)
    options = dict(steps=steps, batch_size=batch, learning_rate=1e-2, log_every=steps)

    def together():
        res = fit(build, heun_loss, pairs, key=keys[0], keys=keys, progress=False, **options)
        return [h[-1] for h in res.history["loss"]]

    def one_by_one():
        out = []
        for k in keys:
            k_model, k_fit = jax.random.split(k)
            res = fit(build(k_model), heun_loss, pairs, key=k_fit, progress=False, **options)
            out.append(res.history["loss"][-1])
        return out

    w_v, c_v, l_v, n_v = _timed(together, repeats)
    w_s, c_s, l_s, n_s = _timed(one_by_one, repeats)
    return dict(
        width=width,
        batch=batch,
        wall_v=w_v,
        wall_s=w_s,
        cpu_v=c_v,
        cpu_s=c_s,
        compiles=n_v + n_s,
        loss_diff=float(np.max(np.abs(np.subtract(l_v, l_s)) / np.abs(l_s))),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-sizes", default="25,200,1000")
    parser.add_argument("--widths", default="20")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    pairs = _pairs()
    load = os.getloadavg()
    print(
        f"{args.seeds} OnsagerNet seeds vs the same {args.seeds} one by one: 8000 pairs, "
        f"{args.steps} steps each; {os.cpu_count()} cores, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(
        "width batch | ms/step one seed: wall  cpu | vmapped all seeds: wall  cpu | "
        "ratio wall  cpu | compiles timed | max rel. loss diff"
    )
    for width in (int(w) for w in args.widths.split(",")):
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            r = compare(pairs, args.seeds, width, batch, args.steps, args.repeats)
            per = lambda t, k: 1e3 * t / (args.steps * k)
            print(
                f"{width:5d} {batch:5d} | {per(r['wall_s'], args.seeds):20.3f} "
                f"{per(r['cpu_s'], args.seeds):5.3f} | {per(r['wall_v'], 1):23.3f} "
                f"{per(r['cpu_v'], 1):5.3f} | {r['wall_v'] / r['wall_s']:10.3f} "
                f"{r['cpu_v'] / r['cpu_s']:5.3f} | {r['compiles']:14d} | {r['loss_diff']:.1e}",
                flush=True,
            )
    print("target: ratio <= 0.4 on 2 cores")


if __name__ == "__main__":
    main()
