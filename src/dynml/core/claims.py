"""Paper claims as checks on recorded metrics, their verdicts, and the scoreboard.

An experiment declares what its paper claims next to its Config:

```python
@experiment("bn-ols", paper=..., summary=...,
            claims=[Claim("GD diverges above lr * lambda_max = 2", "gd_limit",
                          Within(2.0, rel=0.05), paper="2", source="Cai et al. 2019, Thm 3.3")])
```

After a run every claim gets a verdict computed from the recorded numbers, never typed in:
`holds` when the relation is true of the metric(s), `fails` when it is false (a non-finite
value fails, except an infinite comparator on the right of `LessThan`: a finite error is below
a baseline whose error blew up), `not measured` when a metric the claim reads was not recorded. A claim may carry
a `quick` relation, used instead of the full one in quick mode when the quick setting is
honestly smaller; the verdict records which band was used. Verdicts are science, not errors:
a failing claim never changes a run's exit status.
"""

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

HOLDS, FAILS, NOT_MEASURED = "holds", "fails", "not measured"
VERDICTS = (HOLDS, FAILS, NOT_MEASURED)


def _array(value) -> np.ndarray:
    return np.asarray(value, dtype=float)


def _fmt(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        items = [_fmt(v) for v in value[:6]]
        return "[" + ", ".join(items) + (", …" if len(value) > 6 else "") + "]"
    return str(value)


class AbstractRelation(abc.ABC):
    """A relation that the metric values of a claim must satisfy.

    `holds(values)` receives one value per metric the claim reads (scalars or lists; a
    relation on a list must hold for every element) and returns a bool; `describe()` is the
    band as people read it (`≤ 0.01`, `within 5 % of 4.93e-3`, ...).
    """

    @abc.abstractmethod
    def holds(self, values: Sequence) -> bool: ...

    @abc.abstractmethod
    def describe(self) -> str: ...

    n_metrics: int = 1


@dataclass(frozen=True)
class AtMost(AbstractRelation):
    """Every value `x` satisfies `x ≤ bound`."""

    bound: float

    def holds(self, values):
        x = _array(values[0])
        return bool(np.all(np.isfinite(x)) and np.all(x <= self.bound))

    def describe(self):
        return f"≤ {_fmt(self.bound)}"


@dataclass(frozen=True)
class AtLeast(AbstractRelation):
    """Every value `x` satisfies `x ≥ bound`."""

    bound: float

    def holds(self, values):
        x = _array(values[0])
        return bool(np.all(np.isfinite(x)) and np.all(x >= self.bound))

    def describe(self):
        return f"≥ {_fmt(self.bound)}"


@dataclass(frozen=True)
class Between(AbstractRelation):
    """Every value `x` satisfies `low ≤ x ≤ high` (a slope in a range, for example)."""

    low: float
    high: float

    def holds(self, values):
        x = _array(values[0])
        return bool(np.all(np.isfinite(x)) and np.all((x >= self.low) & (x <= self.high)))

    def describe(self):
        return f"in [{_fmt(self.low)}, {_fmt(self.high)}]"


@dataclass(frozen=True)
class Within(AbstractRelation):
    """Every value `x` is within a relative band of the target: `|x − target| ≤ rel·|target|`."""

    target: float
    rel: float

    def holds(self, values):
        x = _array(values[0])
        ok = np.abs(x - self.target) <= self.rel * abs(self.target)
        return bool(np.all(np.isfinite(x)) and np.all(ok))

    def describe(self):
        return f"within {100 * self.rel:.3g} % of {_fmt(self.target)}"


@dataclass(frozen=True)
class IsTrue(AbstractRelation):
    """The value is true (a boolean metric, or every element of a list of them)."""

    def holds(self, values):
        x = np.asarray(values[0])
        if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
            return False
        return bool(np.all(x.astype(bool)))

    def describe(self):
        return "true"


@dataclass(frozen=True)
class LessThan(AbstractRelation):
    """Two metrics `a, b` (elementwise if lists) satisfy `a ≤ factor · b`.

    `factor` < 1 asks for a margin (`factor = 1/3`: a is at most a third of b); > 1 allows
    slack. With `strict=True` the inequality is strict. `a` must be finite; `b = +∞` (a
    baseline that diverged) is compared as the number it is, so a finite `a` holds; a NaN in
    either fails.
    """

    factor: float = 1.0
    strict: bool = False
    n_metrics: int = field(default=2, init=False, repr=False)

    def holds(self, values):
        a, b = _array(values[0]), _array(values[1])
        if not np.all(np.isfinite(a)) or np.any(np.isnan(b)):
            return False
        rhs = self.factor * b
        return bool(np.all(a < rhs) if self.strict else np.all(a <= rhs))

    def describe(self):
        op = "<" if self.strict else "≤"
        scale = "" if self.factor == 1 else f"{_fmt(self.factor)} × "
        return f"first {op} {scale}second"


@dataclass(frozen=True)
class Claim:
    """One claim of a paper, checked on the metric(s) a run records.

    - `text`: the claim in words (`"E-MSA below every gradient method at equal iterations"`);
    - `metric`: the metric name, or a tuple of names for relations on several metrics;
    - `relation`: the full-run band, taken from the paper;
    - `paper`: the paper's number or statement, as shown in the scoreboard;
    - `source`: where it comes from (paper, figure, table);
    - `quick`: the band used in quick mode, when the quick setting is honestly smaller
      (default: the full band).
    """

    text: str
    metric: str | tuple[str, ...]
    relation: AbstractRelation
    paper: str = ""
    source: str = ""
    quick: AbstractRelation | None = None

    def __post_init__(self):
        if not isinstance(self.relation, AbstractRelation):
            raise TypeError(f"claim {self.text!r}: relation must be an AbstractRelation")
        if self.quick is not None and not isinstance(self.quick, AbstractRelation):
            raise TypeError(f"claim {self.text!r}: quick must be an AbstractRelation")
        for rel in (self.relation, self.quick):
            if rel is not None and rel.n_metrics != len(self.metrics):
                raise ValueError(
                    f"claim {self.text!r}: {type(rel).__name__} reads {rel.n_metrics} "
                    f"metric(s), the claim names {len(self.metrics)}"
                )

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,) if isinstance(self.metric, str) else tuple(self.metric)

    def band(self, quick: bool) -> tuple[str, AbstractRelation]:
        """The band used in this mode: (`"quick"` or `"full"`, relation)."""
        if quick and self.quick is not None:
            return "quick", self.quick
        return "full", self.relation

    def evaluate(self, metrics: dict, quick: bool = False) -> dict:
        """The verdict of this claim on recorded `metrics`, as a JSON-ready dict."""
        band_name, relation = self.band(quick)
        missing = [m for m in self.metrics if metrics.get(m) is None]
        values = [metrics.get(m) for m in self.metrics]
        if missing:
            verdict = NOT_MEASURED
        else:
            try:
                verdict = HOLDS if relation.holds(values) else FAILS
            except (TypeError, ValueError):  # a metric of the wrong kind cannot satisfy it
                verdict = FAILS
        ours = "; ".join(_fmt(v) for v in values if v is not None) if not missing else "–"
        return {
            "claim": self.text,
            "metric": ", ".join(self.metrics),
            "band": relation.describe(),
            "band_used": band_name,
            "paper": self.paper,
            "source": self.source,
            "ours": ours,
            "verdict": verdict,
        }


def evaluate_claims(claims: Sequence[Claim], metrics: dict, quick: bool = False) -> list[dict]:
    """Verdicts of every claim on `metrics` (see `Claim.evaluate`)."""
    return [c.evaluate(metrics, quick) for c in claims]


def count_verdicts(results: Sequence[dict]) -> dict[str, int]:
    """How many results hold, fail and are not measured."""
    counts = dict.fromkeys(VERDICTS, 0)
    for r in results:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return counts


def _md_escape(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown(results: Sequence[dict]) -> list[str]:
    """A Markdown table of claim verdicts: claim, band, paper, ours, verdict."""
    if not results:
        return ["(this experiment declares no claims)"]
    lines = ["| claim | band | paper | ours | verdict |", "|---|---|---|---|---|"]
    for r in results:
        band = f"{r['band']} ({r['band_used']})"
        paper = r["paper"] + (f" [{r['source']}]" if r.get("source") else "")
        lines.append(
            "| "
            + " | ".join(_md_escape(x) for x in (r["claim"], band, paper, r["ours"], r["verdict"]))
            + " |"
        )
    return lines


def scoreboard_rows(runs: Sequence[tuple[str, str, Sequence[dict]]]) -> list[dict]:
    """Flatten `(experiment, mode, claim results)` per run into one row per claim."""
    return [
        {"experiment": name, "mode": mode, **r} for name, mode, results in runs for r in results
    ]


def scoreboard_markdown(rows: Sequence[dict], title: str = "Scoreboard") -> str:
    """The scoreboard: one row per claim (experiment, claim, paper, ours, verdict) and counts."""
    counts = count_verdicts(rows)
    lines = [
        f"# {title}",
        "",
        f"{len(rows)} claims: {counts[HOLDS]} hold, {counts[FAILS]} fail, "
        f"{counts[NOT_MEASURED]} not measured.",
        "",
        "| experiment | mode | claim | band | paper | ours | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = (
            r["experiment"],
            r["mode"],
            r["claim"],
            f"{r['band']} ({r['band_used']})",
            r["paper"],
            r["ours"],
            r["verdict"],
        )
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def scoreboard_text(rows: Sequence[dict], width: int = 60) -> str:
    """The scoreboard as plain text for the terminal."""
    counts = count_verdicts(rows)
    out = []
    for r in rows:
        claim = r["claim"] if len(r["claim"]) <= width else r["claim"][: width - 1] + "…"
        out.append(
            f"{r['verdict']:<12} {r['experiment']:<24} {claim:<{width}}  "
            f"ours {r['ours']}  (paper {r['paper'] or '-'}; band {r['band']})"
        )
    out.append(
        f"scoreboard: {len(rows)} claims, {counts[HOLDS]} hold, {counts[FAILS]} fail, "
        f"{counts[NOT_MEASURED]} not measured"
    )
    return "\n".join(out)
