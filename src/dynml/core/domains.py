"""Domains of Config fields: what values a field accepts, checked before a run starts.

A field may declare its domain explicitly:

```python
from dataclasses import field
from dynml.core.domains import Domain
grid: int = field(default=401, metadata={"domain": Domain(low=11, high=2001)})
```

Otherwise it gets a default from its type and name, chosen so that every value that cannot
describe a run is refused:

- every number is finite, and every integer fits in 64 bits; `seed` is in [0, 2⁶³);
- an integer is a size, count or step number: ≥ 1 and ≤ 10⁷ (names in `ZERO_ALLOWED` may be 0);
- learning rates, time steps, horizons and boxes are > 0; fractions lie in (0, 1);
- a data path (`*_path`, `data`, `*_data`) is empty or names an existing file: data paths
  are read-only input, never written;
- a tuple is non-empty, has the declared length when its type fixes one, and each element
  obeys the element rule of the tuple's name (sizes ≥ 1 for integer tuples).
"""

import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path

SEED_LIMIT = 2**63
INT_CAP = 10**7

ZERO_ALLOWED = frozenset({"augment", "burn_in", "thin_start", "warmup", "l96_seeds_offset"})
_POSITIVE_FLOAT = re.compile(
    r"(^|_)(lr|learning_rate|dt|t_end|t_final|horizon|label_time|time_unit|box|step|"
    r"t_bounded|t_rollout|tolerance|bump_width|indicator_width|meta_width|kt_sample|pr)($|_)"
)
_FRACTION = re.compile(r"fraction$")
_FREE_ELEMENTS = re.compile(r"exponent|decade|offset")
_INPUT_FILE = re.compile(r"(_path|^data|_data)$")


@dataclass(frozen=True)
class Domain:
    """An explicit domain: `low ≤ x ≤ high` (either may be None), `positive` for x > 0,
    `choices` for a finite set of allowed values (strings, for example)."""

    low: float | None = None
    high: float | None = None
    positive: bool = False
    choices: tuple | None = None
    input_file: bool = False

    def describe(self) -> str:
        if self.input_file:
            return "an existing file (data paths are read-only input; empty for none)"
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        parts = []
        if self.positive:
            parts.append("> 0")
        if self.low is not None:
            parts.append(f"≥ {self.low:g}")
        if self.high is not None:
            parts.append(f"≤ {self.high:g}")
        return " and ".join(parts) or "any finite value"

    def contains(self, value) -> bool:
        if self.input_file:
            return value == "" or Path(value).expanduser().is_file()
        if self.choices is not None:
            return value in self.choices
        if self.positive and not value > 0:
            return False
        if self.low is not None and value < self.low:
            return False
        return not (self.high is not None and value > self.high)


def _default_domain(name: str, kind: type) -> Domain | None:
    if kind is str and _INPUT_FILE.search(name):
        return Domain(input_file=True)
    if kind is bool:
        return None
    if kind is int:
        if name == "seed":
            return Domain(low=0, high=SEED_LIMIT - 1)
        return Domain(low=0 if name in ZERO_ALLOWED else 1, high=INT_CAP)
    if kind is float:
        if _FRACTION.search(name):
            return Domain(positive=True, high=1.0 - 1e-12)
        if _POSITIVE_FLOAT.search(name):
            return Domain(positive=True)
    return None


def _element_domain(name: str, kind: type) -> Domain | None:
    if _FREE_ELEMENTS.search(name):
        return None
    if kind is int:
        return Domain(low=1, high=INT_CAP)
    return _default_domain(name, kind)


def _refuse(name: str, value, what: str) -> ValueError:
    return ValueError(f"config field {name!r} = {value!r} is refused: expected {what}")


def _check_scalar(name: str, value, kind: type, domain: Domain | None) -> None:
    if kind is float and isinstance(value, int | float) and not math.isfinite(value):
        raise _refuse(name, value, "a finite number")
    if kind is int and isinstance(value, int) and not -SEED_LIMIT <= value < SEED_LIMIT:
        raise _refuse(name, value, "an integer that fits in 64 bits")
    if domain is not None and not domain.contains(value):
        raise _refuse(name, value, domain.describe())


def check_field(name: str, value, tp, domain: Domain | None = None) -> None:
    """Raise a one-line `ValueError` if `value` is outside the domain of field `name`."""
    if value is None:
        return
    origin = typing.get_origin(tp)
    if origin is typing.Union or (origin is not None and origin.__name__ == "UnionType"):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return check_field(name, value, options[0], domain)
    if origin in (tuple, list):
        args = typing.get_args(tp)
        if not isinstance(value, tuple | list) or len(value) == 0:
            raise _refuse(name, value, "a non-empty tuple, e.g. (1,2)")
        fixed = args and (len(args) != 2 or args[1] is not Ellipsis)
        if fixed and len(value) != len(args):
            raise _refuse(name, value, f"a tuple of {len(args)} values")
        inner = args[0] if args else str
        for item in value:
            _check_scalar(name, item, inner, domain or _element_domain(name, inner))
        return None
    return _check_scalar(name, value, tp, domain or _default_domain(name, tp))


def validate_config(cfg) -> None:
    """Check every field of a Config dataclass against its domain (`ValueError` on the first bad one)."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        check_field(f.name, getattr(cfg, f.name), hints[f.name], f.metadata.get("domain"))


class BadInput(ValueError):
    """Input data that a run cannot use (a file of the wrong format, NaN in data, wrong shape).

    Raised inside a run, it is reported like a bad config value: one line, exit status 2;
    the run folder keeps what was written and is marked failed.
    """
