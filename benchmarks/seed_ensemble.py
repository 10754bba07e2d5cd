"""Time 8 seeds trained together (`fit(..., seeds=8)`, vmapped) against 8 `fit` calls in turn.

The task is the OnsagerNet Lorenz protocol of Yu et al. 2021 at small size: an OnsagerNet
(356 parameters) fitted by the one-step Heun loss to 8000 pairs, batch 200, Adam.
Both ways compile before timing (the sequential fits share one compiled chunk), and both
give every seed the same steps, so the final losses agree seed by seed. Prints both times and
the ratio vmapped / sequential (target <= 0.4 on 2 cores).

    .venv/bin/python benchmarks/seed_ensemble.py [--seeds 8] [--steps 800] [--repeats 2]
"""

import argparse
import os
import time

import jax
import numpy as np

from dynml.core import fit
from dynml.identify import OnsagerNet, as_pairs, heun_loss

os.environ.setdefault("DYNML_PROGRESS", "0")


def _pairs(n: int = 8000):
    rng = np.random.default_rng(0)
    h1 = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
    drift = np.stack([h1[:, 1] - h1[:, 0], h1[:, 0] - h1[:, 1] - h1[:, 0] * h1[:, 2], -h1[:, 2]])
    return as_pairs(h1, h1 + 1e-2 * drift.T.astype(np.float32), 1e-2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    pairs = _pairs()
    build = lambda key: OnsagerNet(3, 20, key=key)
    keys = jax.random.split(jax.random.PRNGKey(0), args.seeds)
    options = dict(steps=args.steps, batch_size=200, learning_rate=1e-2, log_every=200)

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

    timings = {}
    for name, fn in (("vmapped", together), ("sequential", one_by_one)):
        losses = fn()  # compile
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        timings[name] = (best, losses)
    (t_v, l_v), (t_s, l_s) = timings["vmapped"], timings["sequential"]
    print(f"{args.seeds} OnsagerNet seeds, 8000 pairs, batch 200, {args.steps} steps each")
    print(f"  vmapped (fit seeds=)   : {t_v:8.3f} s")
    print(f"  sequential (fit x {args.seeds})  : {t_s:8.3f} s")
    print(f"  ratio vmapped/sequential: {t_v / t_s:7.3f}   (target <= 0.4)")
    print(
        f"  max rel. diff of final losses: {np.max(np.abs(np.subtract(l_v, l_s)) / np.abs(l_s)):.2e}"
    )


if __name__ == "__main__":
    main()
