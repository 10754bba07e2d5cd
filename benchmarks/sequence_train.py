"""Training steps per second of each sequence model on the adding problem (core.fit).

Run: `.venv/bin/python benchmarks/sequence_train.py [T] [steps]`. Each model trains for
`steps` and for `2 steps` steps, each length timed on its second call (the first compiles);
the difference of the two wall times is `steps` steps without compilation. The last line
times the vmapped linear-RNN kernel ensemble of `memory-plateau` (steps per second of the
whole ensemble, `sequence.train_ensemble`). It used to print nan: plain GD at lr 0.1 on
random full-`W` linear RNNs diverged at step 5 (the learning rate, not `fit_kernels`, was the
cause); it now trains the experiment's diagonal RNNs at its stable lr 0.02 and reports how
many members diverged.
"""

import sys
import time

import jax
import numpy as np
import optax

from dynml.core.train import fit
from dynml.experiments.adding_problem import MODELS, last_step_mse, make_model
from dynml.sequence import DiagonalLinearRNN, stack, train_ensemble, white_noise_loss
from dynml.systems import memory as M


def _rate(train, steps: int) -> float:
    """Steps per second from `train(steps)` and `train(2 steps)`, each timed on a second call.

    The first call of each length compiles (`fit` and `train_ensemble` reuse the compiled
    chunk on a later call with the same loss, model and sizes), so the difference of the two
    timed calls is `steps` steps without compilation; nan when timing noise exceeds it."""
    times = []
    for n in (steps, 2 * steps):
        train(n)  # compile
        start = time.perf_counter()
        train(n)
        times.append(time.perf_counter() - start)
    return steps / (times[1] - times[0]) if times[1] > times[0] else float("nan")  # nan: noise


def main(length: int = 100, steps: int = 200, width: int = 64, batch: int = 32) -> None:
    data = M.adding_problem(jax.random.PRNGKey(0), 1024, length)
    for name in MODELS:
        model = make_model(name, length, width, key=jax.random.PRNGKey(1))

        def train(n, m=model):
            opts = dict(key=jax.random.PRNGKey(2), batch_size=batch, log_every=n, progress=False)
            return fit(m, last_step_mse, data, steps=n, **opts)

        print(
            f"{name:12s} T={length}: {_rate(train, steps):8.1f} steps/s (batch {batch}, width {width})"
        )
    dt, n_members = 0.1, 24
    rho = M.sample_kernel(M.kernel_by_name("delay"), 128, dt)
    members = stack(
        [DiagonalLinearRNN([1.0, 1.0 + 0.01 * i], [1.0, 0.1], dt) for i in range(n_members)]
    )
    targets = np.repeat(rho[None], n_members, axis=0)
    loss = lambda m, r: white_noise_loss(m.sampled_kernel(len(rho))[:, 0, 0], r, dt)
    diverged = []

    def train_kernels(n):
        res = train_ensemble(members, loss, targets, optax.sgd(0.02), n, chunk=n)
        diverged.append(int(res.diverged.sum()))
        return res

    rate = _rate(
        train_kernels, 50 * steps
    )  # a step is ~0.1 ms: run long enough to beat compile noise
    print(
        f"linear-RNN kernel ensemble ({n_members} members, 128 points): {rate:8.1f} steps/s"
        f" ({max(diverged)} members diverged)"
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
