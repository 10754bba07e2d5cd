"""Time `dynml.core.fit` against a bare hand-written jit + optax loop on the same neural ODE.

Both minimise the same loss with the same optimiser, full batch, the same number of steps;
compilation is excluded from both (each is run once before timing). Prints both times and
the ratio fit / bare (target <= 1.10).

Second table: the cost of mini-batch shuffling on the OnsagerNet Lorenz protocol (Yu et al.
2021: 8000 pairs, batch 200, 40 steps an epoch, Heun one-step loss): `fit` drawing one
permutation of the training set per epoch (now) against one per step (before).

    .venv/bin/python benchmarks/train_overhead.py [--steps 2000] [--repeats 3]
"""

import argparse
import os
import time

import equinox as eqx
import jax
import numpy as np
import optax

from dynml.core import fit, train
from dynml.flows import FlowModel, mean_squared_error
from dynml.identify import OnsagerNet, as_pairs, heun_loss

os.environ.setdefault("DYNML_PROGRESS", "0")


def bare_loop(model, data, steps: int, learning_rate: float):
    """The reference: a jitted step function called from a Python loop."""
    opt = optax.adam(learning_rate)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(
            lambda p: mean_squared_error(eqx.combine(p, static), data)
        )(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    for _ in range(steps):
        params, state, loss = step(params, state)
    jax.block_until_ready(loss)
    return eqx.combine(params, static), float(loss)


def ours(model, data, steps: int, learning_rate: float):
    result = fit(
        model,
        mean_squared_error,
        data,
        steps=steps,
        key=jax.random.PRNGKey(0),
        learning_rate=learning_rate,
        progress=False,
    )
    return result.model, result.history["loss"][-1]


def best_time(fn, repeats: int) -> tuple[float, float]:
    times, loss = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        _, loss = fn()
        times.append(time.perf_counter() - start)
    return min(times), loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    x = np.linspace(0, 1, 256, dtype=np.float32)[:, None]
    data = (x, 1.0 - x)
    model = FlowModel(
        1,
        1,
        augment=1,
        width=32,
        depth=2,
        n_steps=10,
        readout="identity",
        key=jax.random.PRNGKey(0),
    )
    lr = 1e-2
    bare_loop(model, data, 5, lr)  # compile
    ours(model, data, args.steps, lr)  # compile (chunk lengths are those of the timed run)
    t_bare, loss_bare = best_time(lambda: bare_loop(model, data, args.steps, lr), args.repeats)
    t_ours, loss_ours = best_time(lambda: ours(model, data, args.steps, lr), args.repeats)
    print(
        f"neural ODE (FlowModel, 2-D augmented, 10 RK4 steps), {args.steps} Adam steps, best of {args.repeats}"
    )
    print(f"  bare jit+optax loop : {t_bare:8.3f} s   final loss {loss_bare:.3e}")
    print(f"  dynml.core.fit      : {t_ours:8.3f} s   final loss {loss_ours:.3e}")
    print(f"  ratio fit / bare    : {t_ours / t_bare:8.3f}   (target <= 1.10)")

    permutation_table(args.repeats)


def permutation_table(repeats: int, epochs: int = 40) -> None:
    """Per-step time of `fit` on 8000 Lorenz-like pairs, batch 200: shuffle per epoch vs step."""
    rng = np.random.default_rng(0)
    h1 = rng.uniform(-20, 20, (8000, 3)).astype(np.float32)
    pairs = as_pairs(h1, h1 + 1e-3 * rng.normal(size=h1.shape).astype(np.float32), 1e-3)
    model = OnsagerNet(3, 20, key=jax.random.PRNGKey(0))
    steps = epochs * 40
    times = {}
    for name, table in (("per epoch", train._MAX_PERM_TABLE), ("per step", 0)):
        train._MAX_PERM_TABLE = table
        run = lambda: fit(
            model,
            heun_loss,
            pairs,
            steps=steps,
            key=jax.random.PRNGKey(1),
            batch_size=200,
            learning_rate=0.0128,
            log_every=400,
            progress=False,
        ).history["loss"][-1]
        run()  # compile
        times[name], _ = best_time(lambda run=run: (None, run()), repeats)
    print(f"OnsagerNet (356 params), 8000 pairs, batch 200, {steps} steps, best of {repeats}")
    for name, t in times.items():
        print(f"  permutation {name:9s}: {1e3 * t / steps:7.3f} ms/step")
    print(f"  speed-up              : {times['per step'] / times['per epoch']:7.2f} x")


if __name__ == "__main__":
    main()
