"""Time one E-MSA iteration against one Adam iteration on the same residual nets (digits).

Run: `.venv/bin/python benchmarks/msa_step.py [ROUNDS]`. Both are timed inside an ahead-of-time
compiled loop (compile time excluded), on the same batch of 128 digits, in one process; the
rounds interleave Adam and every E-MSA setting so that load changes hit all of them alike, and
the table gives the median over rounds of wall and CPU (process, all threads) milliseconds per
iteration and the ratios E-MSA / Adam. In an E-MSA iteration one backward pass through the
forward pass's VJPs gives the costates and `∂H/∂θ` (the first inner step's gradient); later inner
steps evaluate the extended Hamiltonian of all layers at once (same-shaped layers by `vmap`);
Adam inner solves are warm-started across iterations.
"""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dynml.control import MSA, gradient_seconds_per_step, msa_fit, pmp
from dynml.control.layers import residual_classifier
from dynml.control.losses import cross_entropy
from dynml.systems.datasets import classification_data

SETTINGS = (("adam", 2), ("adam", 3), ("lbfgs", 3))


def main(rounds: int = 5, steps: int = 30, batch: int = 128) -> None:
    (x, y), _ = classification_data()
    x, y = jnp.asarray(x[:batch]), jnp.asarray(y[:batch])
    loss = lambda m, b: pmp.loss(m, *b, cross_entropy, 1e-4)  # noqa: E731
    print("net   | method          | wall ms/it | CPU ms/it | E-MSA/Adam wall | CPU")
    for kind in ("conv", "dense"):
        net = residual_classifier(kind, x.shape[-1], jax.random.key(0))
        times: dict[str, list] = {}
        for _ in range(rounds):
            for clock, col in ((time.perf_counter, 0), (time.process_time, 1)):
                t = gradient_seconds_per_step(loss, net, (x, y), optax.adam(1e-2), steps, clock)
                times.setdefault("Adam", [[], []])[col].append(t)
            for inner, k in SETTINGS:
                method = MSA(rho=0.1, reg=1e-4, inner_steps=k, inner=inner, inner_lr=0.02)
                res = msa_fit(
                    net, cross_entropy, (x, y), method, steps=steps, key=jax.random.key(1)
                )
                pair = times.setdefault(f"E-MSA {inner} x{k}", [[], []])
                pair[0].append(res.history["seconds_per_step"])
                pair[1].append(res.history["cpu_seconds_per_step"])
        adam = [np.median(v) for v in times["Adam"]]
        for name, (wall, cpu) in times.items():
            w, c = np.median(wall), np.median(cpu)
            print(
                f"{kind:5s} | {name:15s} | {1e3 * w:10.2f} | {1e3 * c:9.2f} | "
                f"{w / adam[0]:15.2f} | {c / adam[1]:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
