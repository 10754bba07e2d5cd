"""PGD-20 throughput and the closed-loop controller's cost against one forward pass.

Run: `.venv/bin/python benchmarks/attacks.py`. On the residual CNN of the closed-loop-defence
experiment (untrained: cost does not depend on the weights) and the digits test images, it
prints PGD-20 examples per second (jitted, vmapped) and the wall time of the controlled
forward pass (10 controller iterations) relative to a bare forward pass, compile time excluded.
"""

import time

import jax
import jax.numpy as jnp

from dynml.control import attacks, closed_loop, pmp
from dynml.systems.datasets import classification_data


def seconds(fn, *args, repeats: int = 5) -> float:
    jax.block_until_ready(fn(*args))  # compile
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn(*args))
    return (time.perf_counter() - start) / repeats


def main() -> None:
    (xtr, ytr), (xte, yte) = classification_data()
    xtr, ytr, x, y = (jnp.asarray(a) for a in (xtr, ytr, xte, yte))
    net = closed_loop.residual_cnn(x.shape[-1], key=jax.random.key(0))
    bare = lambda z: pmp.forward(net, z)[-1]  # noqa: E731
    y_fit = jnp.argmax(bare(xtr), axis=1)  # every training point counts as correct
    mans = closed_loop.fit_manifolds(net, xtr, y_fit, (0, 2, 3, 4))
    ctrl = closed_loop.ClosedLoop(net, mans, cost=0.1, iterations=10, lr=0.01, optimizer="adam")
    key = jax.random.key(1)
    pgd = jax.jit(lambda a, b: attacks.pgd(bare, a, b, 0.1, 0.025, 20, key).x)
    t_pgd = seconds(pgd, x, y)
    t_fwd = seconds(jax.jit(bare), x, repeats=50)
    t_ctrl = seconds(jax.jit(lambda a: ctrl(a)), x, repeats=10)
    n = x.shape[0]
    print(f"PGD-20 on the bare net: {n / t_pgd:10.0f} examples/s ({n} examples per call)")
    print(f"forward pass:           {1e6 * t_fwd / n:10.2f} µs/example")
    print(
        f"controlled forward:     {1e6 * t_ctrl / n:10.2f} µs/example, "
        f"{t_ctrl / t_fwd:6.1f}× one forward pass (10 iterations)"
    )


if __name__ == "__main__":
    main()
