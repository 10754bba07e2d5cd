"""The runnable example of docs/rare.md runs and gives sensible numbers."""

import re
from pathlib import Path

import numpy as np
import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "rare.md"


@pytest.mark.slow  # about a minute: the committor example of docs/examples.md runs by default
def test_docs_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/rare.md has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    fit, qp = namespace["fit"], namespace["qp"]
    q0 = float(np.asarray(fit(np.zeros((1, 2), np.float32)))[0])
    assert fit.rate > 0 and fit.ess > 10 and 0.2 < q0 < 0.8
    # exact U = |x|² (V = |x|²/2, g = 4Jx ⟂ ∇V); at the example's tiny budget U is not yet
    # right (last run: 0.60 at (0.5, 0) and −0.14 at (0, −0.5) against 0.25; docs/rare.md),
    # so only that it runs and is finite is checked here
    u = qp(np.array([[0.5, 0.0], [0.0, -0.5]]))
    assert u.shape == (2,) and np.all(np.isfinite(u)) and np.isfinite(qp.rms_cos)
