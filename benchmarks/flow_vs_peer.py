"""Time to 98 % test accuracy on the flow task: dynml against PyTorch + torchdiffeq.

The task is `flow-seed`'s (the seed lecture's flow-labelled plane, Li, Lin, Shen 2019): points
in `[-1.3, 1.3]^2` labelled by `1{x_{T,1} > 0}` under the lecture's ODE at `T = 4`. The model
is the same on both sides: zero-pad to 4-D, neural field `MLP([x, t])` of width 32 and depth
2 (tanh), fixed-step RK4 over `[0, 1]`, affine readout, logistic loss, Adam at a constant
learning rate, batch 256. Every `--check` steps the test accuracy is measured; the clock
(wall and CPU) runs from the first line of training, compilation included, until 98 %.

dynml trains through `core.fit`, resuming from its own checkpoint between checks (resume is
exact, and the compiled chunk is reused). The peer runs only when `torch` and `torchdiffeq`
import (they are never dependencies of dynml), on one thread (`torch.set_num_threads(1)`);
otherwise it says so. Prints both times and the ratio dynml / peer (target <= 1/3).

    .venv/bin/python benchmarks/flow_vs_peer.py [--n-steps 20] [--lr 1e-2] [--max-steps 6000]
"""

import argparse
import os
import tempfile
import time

import jax
import numpy as np

from dynml.core import fit
from dynml.flows import FlowModel, binary_cross_entropy, predict
from dynml.systems.seed_flow import labels

os.environ.setdefault("DYNML_PROGRESS", "0")


def task(n_train: int = 2000, n_test: int = 1000, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    z = rng.uniform(-1.3, 1.3, (2 * n, 2)).astype(np.float32)
    y, ok = labels(z, 4.0)
    z, y = z[ok][:n], y[ok][:n].astype(np.float32)
    return (z[:n_train], y[:n_train]), (z[n_train:], y[n_train:])


def dynml_time_to(target, train, test, args):
    t0, c0 = time.perf_counter(), time.process_time()
    model = FlowModel(
        2, 1, augment=2, width=32, depth=2, n_steps=args.n_steps, key=jax.random.PRNGKey(0)
    )
    with tempfile.TemporaryDirectory() as ckpt:
        for steps in range(args.check, args.max_steps + 1, args.check):
            res = fit(
                model,
                binary_cross_entropy,
                train,
                steps=steps,
                key=jax.random.PRNGKey(1),
                batch_size=256,
                learning_rate=args.lr,
                log_every=args.check,
                checkpoint_dir=ckpt,
                checkpoint_every=args.check,
                progress=False,
            )
            acc = float(
                np.mean((np.asarray(predict(res.model, test[0]))[:, 0] > 0) == (test[1] > 0.5))
            )
            if acc >= target:
                return time.perf_counter() - t0, time.process_time() - c0, steps, acc
    return float("nan"), float("nan"), args.max_steps, acc


def peer_time_to(target, train, test, args):
    import torch
    from torchdiffeq import odeint

    torch.set_num_threads(1)
    torch.manual_seed(0)

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(5, 32),
                torch.nn.Tanh(),
                torch.nn.Linear(32, 32),
                torch.nn.Tanh(),
                torch.nn.Linear(32, 4),
            )

        def forward(self, t, x):
            return self.net(torch.cat([x, t.expand(x.shape[0], 1)], 1))

    field, readout = Field(), torch.nn.Linear(4, 1)
    params = list(field.parameters()) + list(readout.parameters())
    opt = torch.optim.Adam(params, lr=args.lr)
    ts = torch.tensor([0.0, 1.0])
    forward = lambda z: readout(
        odeint(
            field,
            torch.nn.functional.pad(z, (0, 2)),
            ts,
            method="rk4",
            options={"step_size": 1.0 / args.n_steps},
        )[-1]
    )[:, 0]
    z_tr, y_tr = (torch.from_numpy(a) for a in train)
    z_te, y_te = (torch.from_numpy(a) for a in test)
    gen = torch.Generator().manual_seed(1)
    t0, c0, step, acc = time.perf_counter(), time.process_time(), 0, 0.0
    while step < args.max_steps:
        for idx in torch.randperm(len(z_tr), generator=gen)[: len(z_tr) // 256 * 256].view(-1, 256):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                forward(z_tr[idx]), y_tr[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % args.check == 0:
                with torch.no_grad():
                    acc = float(((forward(z_te) > 0) == (y_te > 0.5)).float().mean())
                if acc >= target:
                    return time.perf_counter() - t0, time.process_time() - c0, step, acc
    return float("nan"), float("nan"), step, acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-steps", type=int, default=20, help="RK4 steps over [0, 1]")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--check", type=int, default=100, help="steps between accuracy checks")
    parser.add_argument("--max-steps", type=int, default=6000)
    parser.add_argument("--target", type=float, default=0.98)
    args = parser.parse_args()
    train, test = task()
    rows = {"dynml": dynml_time_to(args.target, train, test, args)}
    try:
        import torch  # noqa: F401
        import torchdiffeq  # noqa: F401
    except ImportError:
        print("peer skipped: torch and torchdiffeq are not importable here")
    else:
        rows["torchdiffeq"] = peer_time_to(args.target, train, test, args)
    print(
        f"flow task, width 32, RK4 x {args.n_steps}, Adam {args.lr}, batch 256, target {args.target}"
    )
    for name, (wall, cpu, steps, acc) in rows.items():
        print(f"  {name:12s}: {wall:8.2f} s wall {cpu:8.2f} s CPU  {steps:5d} steps  acc {acc:.4f}")
    if "torchdiffeq" in rows:
        (w, c, _, _), (wp, cp, _, _) = rows["dynml"], rows["torchdiffeq"]
        print(f"  ratio dynml / peer: {w / wp:.3f} wall, {c / cp:.3f} CPU   (target <= 0.33)")


if __name__ == "__main__":
    main()
