"""The RBC comparison on a small file in the authors' PCA format (`identify.pca_pairs`):
exact pairs of a linear ODE, so SINDy (whose library holds the linear field) must forecast
them, and `onsager-rbc --set pca_data=FILE` runs the authors' protocol end to end."""

import gzip
import json

import numpy as np
import pytest
import scipy.linalg

from dynml.cli import main
from dynml.identify.baselines import SINDy
from dynml.identify.comparison import AUTHORS_RBC, authors_mlp_width, matched_width
from dynml.identify.forecast import score
from dynml.identify.pca_pairs import load_pca_pairs

A = np.array([[-0.1, 1.0, 0.0], [-1.0, -0.1, 0.0], [0.0, 0.0, -0.5]])  # a stable spiral


def _write(path, n_traj=100, n_per=3, dt=1e-3, seed=0):
    """`h(t_k)` at t_k = k (one time unit apart) and `h(t_k + dt)`, exactly, for dh/dt = A h."""
    h = np.random.default_rng(seed).normal(size=(n_traj, 3)) * 5
    step, pair = scipy.linalg.expm(A), scipy.linalg.expm(A * dt)
    h0 = np.stack([h @ np.linalg.matrix_power(step, k).T for k in range(n_per)], axis=1)
    rows = np.stack([h0, h0 @ pair.T], axis=2).reshape(-1, 3)
    with gzip.open(path, "wt") as f:
        np.savetxt(f, rows, delimiter=", ", fmt="%.8e")
    return h0


def test_authors_sizes():
    assert [AUTHORS_RBC.width(m) for m in (3, 5, 7)] == [20, 42, 72]  # 2 C(m + 2, 2)
    # the paper's Lorenz MLP-ODE, 2 x 16, has 387 parameters and 2 x 15 fewer: the smallest
    assert matched_width(3, 387, 2) == 16 and matched_width(3, 388, 2) == 17
    # 5 -> 23 x 3 -> 5: 6*23 + 2*24*23 + 24*5 = 1362 >= 1300 > 1259 (width 22)
    assert matched_width(5, 1300, 3) == 23


def test_authors_mlp_width_is_their_get_ode_nodes():
    # config.py: P = (w+1)(m+1)^2 + w(w+1)(L-1), n = floor((sqrt(b^2 + 4 L P) - b) / (2 L)),
    # b = 2m + L + 1; m = 3, w = 20, L = 2: P = 756, n = (sqrt(6129) - 9) / 4 = 17.32
    assert [authors_mlp_width(m, AUTHORS_RBC.width(m), 2) for m in (3, 5, 7)] == [17, 37, 66]
    # n solves L n^2 + b n = P from below: the MLP-ODE of n + 1 would exceed P
    for m, w in ((3, 20), (5, 42), (7, 72)):
        n, p, b = authors_mlp_width(m, w, 2), (w + 1) * (m + 1) ** 2 + w * (w + 1), 2 * m + 3
        assert 2 * n * n + b * n <= p < 2 * (n + 1) ** 2 + b * (n + 1)


def test_sindy_forecasts_exact_linear_pairs(tmp_path):
    path = tmp_path / "RBC_pca3_enc_data.txt.gz"
    _write(path)
    data = load_pca_pairs(path)
    models = {"SINDy": SINDy.from_pairs(*data.flat_pairs(slice(0, 80)), threshold=0.005)}
    rows, rollouts = score(models, data.h0, np.arange(80, 100), t_end=2.0, snapshot_dt=1.0,
                           dt=0.01, long=2.0)  # fmt: skip
    by = {r["model"]: r for r in rows}
    # SINDy's secant slopes of exact pairs recover A to O(dt^2): the rollouts follow the data
    assert by["SINDy"]["err_T1"] < 1e-3 and by["SINDy"]["err_T99"] < 1e-3
    assert by["SINDy"]["N_fail"] == 0 and by["SINDy"]["bounded"] == 1.0
    assert by["SINDy"]["n_traj"] == 100 and by["SINDy"]["n_test"] == 20
    assert rollouts["SINDy"].shape == data.h0.shape
    # a wrong field (A without its rotation) misses: the score can fail
    wrong = SINDy.from_pairs(data.h0[:80].reshape(-1, 3), data.h0[:80].reshape(-1, 3)
                             @ scipy.linalg.expm(np.diag(np.diag(A)) * 1e-3).T, 1e-3)  # fmt: skip
    bad = score({"SINDy": wrong}, data.h0, np.arange(80, 100), t_end=2.0, snapshot_dt=1.0,
                dt=0.01, long=2.0)[0][0]  # fmt: skip
    assert bad["err_T1"] > 0.3


@pytest.mark.slow
def test_pca_data_runs_the_authors_protocol(tmp_path, monkeypatch):
    monkeypatch.setenv("DYNML_PROGRESS", "0")
    path = tmp_path / "enc.txt.gz"
    _write(path, n_per=2)  # 100 trajectories x 2 pairs: 160 training pairs, one step an epoch
    out = tmp_path / "runs"
    assert main(["run", "onsager-rbc", "--set", f"pca_data={path}", "--out", str(out)]) == 0
    (folder,) = (out / "onsager-rbc").iterdir()
    metrics = json.loads((folder / "metrics.json").read_text())["metrics"]
    assert metrics["err_T1_sindy_m3"] < 1e-3  # the exact field, rolled out over T = 1
    assert {"err_T99_onsagernet_m3", "N_fail_mlp-ode_m3", "err_T1_test_onsagernet_m3"} <= set(
        metrics
    )
    assert "pca_variance_1_percent" not in metrics  # no fields: the spectrum is not measured


@pytest.mark.parametrize("text", ["1, 2, 3\n4, 5\n", "not, numbers\n"])
def test_corrupt_pca_data_is_refused_in_one_line(tmp_path, capsys, text):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    assert main(["run", "onsager-rbc", "--set", f"pca_data={path}", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pca_data" in err[0]


def test_missing_pca_data_is_refused(tmp_path, capsys):
    argv = ["run", "onsager-rbc", "--set", f"pca_data={tmp_path / 'no.txt'}"]
    assert main(argv + ["--out", str(tmp_path)]) == 2
    assert "pca_data" in capsys.readouterr().err
