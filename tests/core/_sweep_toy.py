"""A registered test experiment that costs nothing: `sweep-toy` (used by the sweep tests).

`value = 10 x + y + e` with `e ~ N(0, 1)` drawn from the seed, so every seed gives a different
number and the aggregate over seeds can be checked against the members' own metrics. It
raises when the file named by `fail_marker` exists, `x == fail_x` and the seed is `fail_seed`
(or any seed when `fail_seed` is `"any"`); with `fail_how="kill"` it kills its own process
instead (SIGKILL, as a segfault or the out-of-memory killer would).
"""

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dynml.core.claims import AtLeast, AtMost, Claim
from dynml.core.experiment import experiment


@experiment(
    "sweep-toy",
    paper="none (test experiment)",
    summary="a seeded number, for sweep tests",
    claims=[
        Claim("value is positive", "value", AtLeast(0.0)),
        Claim("noise within one sd", "abs_noise", AtMost(1.0)),
    ],
)
@dataclass(frozen=True)
class Config:
    x: float = 1.0
    y: int = 1
    fail_marker: str = ""
    fail_x: float = 2.0
    fail_seed: str = "any"
    fail_how: str = "raise"
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls()


def run(cfg: Config, run) -> None:
    chosen = cfg.fail_seed in ("any", str(cfg.seed))
    if cfg.fail_marker and Path(cfg.fail_marker).exists() and cfg.x == cfg.fail_x and chosen:
        if cfg.fail_how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError(f"toy failure at x={cfg.x}")
    noise = float(np.random.default_rng(cfg.seed).standard_normal())
    run.metric("value", 10 * cfg.x + cfg.y + noise)
    run.metric("abs_noise", abs(noise))
    run.metric("positive", 10 * cfg.x + cfg.y + noise > 0)
