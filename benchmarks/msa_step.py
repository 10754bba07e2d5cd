"""Time one E-MSA iteration against one Adam iteration on the same residual nets (digits).

Run: `.venv/bin/python benchmarks/msa_step.py`. Both are timed inside an ahead-of-time compiled
`lax.scan` (compile time excluded); all layers' Hamiltonian maximisations run in one call, with
same-shaped layers batched by `vmap`; Adam inner solves are warm-started across iterations.
"""

import jax
import jax.numpy as jnp
import optax

from dynml.control import MSA, gradient_seconds_per_step, msa_fit, pmp
from dynml.control.layers import residual_classifier
from dynml.control.losses import cross_entropy
from dynml.systems.datasets import classification_data

SETTINGS = (("adam", 2), ("adam", 10), ("lbfgs", 3), ("lbfgs", 10))


def main(steps: int = 30, batch: int = 128) -> None:
    (x, y), _ = classification_data()
    x, y = jnp.asarray(x[:batch]), jnp.asarray(y[:batch])
    loss = lambda m, b: pmp.loss(m, *b, cross_entropy, 1e-4)  # noqa: E731
    for kind in ("conv", "dense"):
        net = residual_classifier(kind, x.shape[-1], jax.random.key(0))
        t_adam = gradient_seconds_per_step(loss, net, (x, y), optax.adam(1e-2), steps)
        for inner, k in SETTINGS:
            method = MSA(rho=0.1, reg=1e-4, inner_steps=k, inner=inner)
            emsa = msa_fit(net, cross_entropy, (x, y), method, steps=steps, key=jax.random.key(1))
            t_msa = emsa.history["seconds_per_step"]
            print(
                f"{kind:5s} net, inner {inner:5s} x{k:<2d}: E-MSA {1e3 * t_msa:8.2f} ms/it, "
                f"Adam {1e3 * t_adam:6.2f} ms/it, ratio {t_msa / t_adam:6.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
