"""One vector-field interface: `AbstractVectorField`, and `as_field` for plain callables.

A learned or true system `dh/dt = f(h)` (OnsagerNet, an MLP-ODE, a Hamiltonian net, SINDy,
Lorenz '63, ...) subclasses `AbstractVectorField` and implements `__call__(h)`; those with a
Lyapunov function or energy also implement `energy(h)` (`has_energy` says whether it did).
`dynml.core.solve` accepts such a field directly, as well as plain callables `f(y)` and
`f(t, y, args)` (the diffrax signature), which `as_field` wraps without a fresh closure, so
compiled solvers are reused across calls.
"""

import abc
import inspect
from collections.abc import Callable

import equinox as eqx
from jaxtyping import Array, Float


class AbstractVectorField(eqx.Module):
    """An autonomous vector field `h -> dh/dt` on states of shape `(dim,)`.

    Subclasses implement `__call__(h)`; `energy(h)` (a scalar such as OnsagerNet's potential
    `V`, a Hamiltonian, or a Lyapunov function) is optional. Fields are equinox modules, so
    their parameters are pytree leaves: they can be trained, vmapped and passed to jitted
    functions.
    """

    @abc.abstractmethod
    def __call__(self, h: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """The time derivative `dh/dt` at the state `h`."""

    def energy(self, h: Float[Array, " dim"]) -> Float[Array, ""]:
        """A scalar energy, potential or Lyapunov function at `h` (if the field defines one)."""
        raise NotImplementedError(f"{type(self).__name__} defines no energy")

    @property
    def has_energy(self) -> bool:
        """Whether this field implements `energy`."""
        return type(self).energy is not AbstractVectorField.energy


class _Autonomous(eqx.Module):
    """`f(y)` seen as `(t, y, args) -> f(y)`."""

    f: Callable

    def __call__(self, t, y, args):
        del t, args
        return self.f(y)


class _TimeState(eqx.Module):
    """`f(t, y)` seen as `(t, y, args) -> f(t, y)`."""

    f: Callable

    def __call__(self, t, y, args):
        del args
        return self.f(t, y)


class _Diffrax(eqx.Module):
    """`f(t, y, args)` as it is (wrapped so that batching does not build closures)."""

    f: Callable

    def __call__(self, t, y, args):
        return self.f(t, y, args)


_WRAPPERS = (_Autonomous, _TimeState, _Diffrax)


def _n_positional(f: Callable) -> int | None:
    """How many positional arguments `f` requires (`None` if it cannot be inspected)."""
    target = f.__call__ if isinstance(f, eqx.Module) else f
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.kind in kinds and p.default is p.empty]
    allowed = [p for p in params if p.kind in kinds]
    if len(required) <= 3 <= len(allowed):
        return 3
    return len(required)


def as_field(field: Callable) -> Callable:
    """`field` in the diffrax form `(t, y, args) -> dy/dt`, as an equinox module.

    Accepts an `AbstractVectorField`, a callable `f(y)`, `f(t, y)` or `f(t, y, args)`.
    Anything else raises `TypeError`. The result is a module whose only leaf is `field`, so
    two calls with the same function (or modules of the same structure) hit the same
    compiled solver.
    """
    if isinstance(field, _WRAPPERS):
        return field
    if isinstance(field, AbstractVectorField):
        return _Autonomous(field)
    if not callable(field):
        raise TypeError(f"a vector field must be callable, got {type(field).__name__}")
    n = _n_positional(field)
    if n == 1:
        return _Autonomous(field)
    if n == 2:
        return _TimeState(field)
    if n == 3:
        return _Diffrax(field)
    name = getattr(field, "__name__", type(field).__name__)
    raise TypeError(
        f"vector field {name!r} must take (y), (t, y) or (t, y, args); it takes {n} "
        "positional arguments (subclass dynml.core.AbstractVectorField or wrap it in a lambda)"
    )
