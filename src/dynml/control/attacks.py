"""L∞ adversarial attacks: FGSM, PGD and CW-L∞, vmapped over a batch, for any classifier.

A classifier is any callable `model(x) -> logits` on a batch `(S, ...) -> (S, K)` (an
equinox module, a tuple of `control.layers` run by `pmp.forward`, or a controlled network).
Each attack returns the perturbed inputs and whether the attack succeeded (the prediction
on them differs from the label). Input gradients are taken one example at a time under
`jax.vmap` (the model sees a batch of one), so models that couple samples are attacked
sample by sample too.

- FGSM (Goodfellow, Shlens, Szegedy, ICLR 2015): `x' = Π(x + ε sign ∇_x ℓ(x, y))`.
- PGD (Madry, Makelov, Schmidt, Tsipras, Vladu, ICLR 2018): from a uniform random start in
  the ε-ball, `K` steps `x ← Π_{B∞(x₀, ε) ∩ [lo, hi]}(x + α sign ∇_x ℓ(x, y))` on the
  cross-entropy `ℓ`.
- CW-L∞ (Carlini & Wagner, S&P 2017, as a PGD attack on their margin loss): the same
  iteration on `ℓ_CW = min(max_{j≠y} z_j − z_y, κ)`, `z` the logits.

`Π` clips to the ε-ball around the clean input and to the pixel box `[lo, hi]` (pass
`bounds=None` for no box). The step sizes and radius are traced, so one compiled attack
serves every ε.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

Classifier = Callable[[Array], Array]
"""`model(x: (S, ...)) -> logits (S, K)`."""

Bounds = tuple[float, float] | None


class AttackResult(NamedTuple):
    """Perturbed inputs and, per example, whether the model now misclassifies them."""

    x: Float[Array, "S ..."]
    success: Bool[Array, " S"]


def cross_entropy(logits: Float[Array, "S K"], y: Int[Array, " S"]) -> Float[Array, " S"]:
    """Per-example softmax cross-entropy `−log softmax(z)_y`."""
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]


def margin_loss(
    logits: Float[Array, "S K"], y: Int[Array, " S"], kappa: float = 50.0
) -> Float[Array, " S"]:
    """Carlini–Wagner margin `min(max_{j≠y} z_j − z_y, κ)`; positive when misclassified."""
    z_y = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
    others = jnp.where(jax.nn.one_hot(y, logits.shape[1], dtype=bool), -jnp.inf, logits)
    return jnp.minimum(jnp.max(others, axis=1) - z_y, kappa)


def predict(model: Classifier, x: Float[Array, "S ..."]) -> Int[Array, " S"]:
    """`argmax_k model(x)_k`."""
    return jnp.argmax(model(x), axis=1)


def input_gradient(
    model: Classifier, x: Float[Array, "S ..."], y: Int[Array, " S"], loss=cross_entropy
) -> Float[Array, "S ..."]:
    """`∇_x ℓ(model(x_s), y_s)` for each example `s`, vmapped over the batch."""

    def one(xi, yi):
        return loss(model(xi[None]), yi[None])[0]

    return jax.vmap(jax.grad(one))(x, y)


def project(
    x: Float[Array, "S ..."], x0: Float[Array, "S ..."], eps, bounds: Bounds = (0.0, 1.0)
) -> Float[Array, "S ..."]:
    """`Π(x)`: clip to the L∞ ball of radius `eps` around `x0`, then to the box `bounds`."""
    x = jnp.clip(x, x0 - eps, x0 + eps)
    return x if bounds is None else jnp.clip(x, *bounds)


def _result(model: Classifier, x_adv: Array, y: Array) -> AttackResult:
    return AttackResult(x_adv, predict(model, x_adv) != y)


def sign_ascent(
    model: Classifier,
    x0: Float[Array, "S ..."],
    y: Int[Array, " S"],
    start: Float[Array, "S ..."],
    eps,
    alpha,
    steps: int,
    loss=cross_entropy,
    bounds: Bounds = (0.0, 1.0),
) -> Float[Array, "S ..."]:
    """`steps` projected sign-gradient ascent steps on `loss` from `start`.

    One `lax.fori_loop`: a Python-int `steps` compiles to a scan (differentiable), a traced
    `steps` to a while loop that does only that many steps (adversarial training with an
    annealed number of steps, `sgd.amata`).
    """

    def body(_, x):
        g = input_gradient(model, x, y, loss)
        return project(x + alpha * jnp.sign(g), x0, eps, bounds)

    return jax.lax.fori_loop(0, steps, body, project(start, x0, eps, bounds))


def fgsm(
    model: Classifier,
    x: Float[Array, "S ..."],
    y: Int[Array, " S"],
    eps,
    bounds: Bounds = (0.0, 1.0),
) -> AttackResult:
    """FGSM: `x' = Π(x + ε sign ∇_x ℓ(x, y))`, one step of PGD with `α = ε` from `x`."""
    return _result(model, sign_ascent(model, x, y, x, eps, eps, 1, bounds=bounds), y)


def _random_start(key, x, eps, random_start: bool):
    if not random_start:
        return x
    return x + jax.random.uniform(key, x.shape, minval=-1.0, maxval=1.0) * eps


def pgd(
    model: Classifier,
    x: Float[Array, "S ..."],
    y: Int[Array, " S"],
    eps,
    alpha,
    steps: int,
    key: PRNGKeyArray | None = None,
    *,
    random_start: bool = True,
    loss=cross_entropy,
    bounds: Bounds = (0.0, 1.0),
) -> AttackResult:
    """PGD-K on the cross-entropy (Madry et al. 2018): uniform start in the ε-ball, `steps`
    steps `x ← Π(x + α sign ∇_x ℓ)`. `key` is needed only for the random start."""
    if random_start and key is None:
        raise ValueError("pgd with random_start=True needs a PRNG key")
    start = _random_start(key, x, eps, random_start)
    return _result(model, sign_ascent(model, x, y, start, eps, alpha, steps, loss, bounds), y)


def cw_linf(
    model: Classifier,
    x: Float[Array, "S ..."],
    y: Int[Array, " S"],
    eps,
    alpha,
    steps: int,
    key: PRNGKeyArray | None = None,
    *,
    kappa: float = 50.0,
    random_start: bool = True,
    bounds: Bounds = (0.0, 1.0),
) -> AttackResult:
    """CW-L∞: PGD on the Carlini–Wagner margin `min(max_{j≠y} z_j − z_y, κ)`."""
    return pgd(
        model,
        x,
        y,
        eps,
        alpha,
        steps,
        key,
        random_start=random_start,
        loss=lambda z, t: margin_loss(z, t, kappa),
        bounds=bounds,
    )


ATTACKS = ("fgsm", "pgd", "cw")


def attack(
    name: str,
    model: Classifier,
    x: Array,
    y: Array,
    eps,
    *,
    steps: int = 20,
    alpha=None,
    key: PRNGKeyArray | None = None,
    bounds: Bounds = (0.0, 1.0),
) -> AttackResult:
    """Run the attack `name` in `ATTACKS`; PGD and CW default to `α = ε/4` (Chen et al. 2021)."""
    if name not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {name!r}")
    if name == "fgsm":
        return fgsm(model, x, y, eps, bounds)
    alpha = eps / 4 if alpha is None else alpha
    fn = pgd if name == "pgd" else cw_linf
    return fn(model, x, y, eps, alpha, steps, key, bounds=bounds)
