"""Time to 98 % test accuracy on the flow task: dynml against PyTorch + torchdiffeq.

The task is `flow-seed`'s (the seed lecture's flow-labelled plane, Li, Lin, Shen 2019): points
in `[-1.3, 1.3]^2` labelled by `1{x_{T,1} > 0}` under the lecture's ODE at `T = 4`. The model
is the same on both sides: zero-pad to 4-D, neural field `MLP([x, t])` of width 32 and depth
2 (tanh), fixed-step RK4 over `[0, 1]`, affine readout, logistic loss, Adam at a constant
learning rate, batch 256. Every `--check` steps the test accuracy is measured; the clock
(wall and CPU) runs from the first line of training (model construction), compilation
included, until 98 %. Imports are outside the clock on both sides.

Each side runs in its own process, one after another: dynml with an empty persistent
compile cache (cold: what a first run pays), the peer, then dynml again on the cache the
first run filled (warm: a second process). dynml trains through `core.fit`, resuming from its
own checkpoint between checks (resume is exact, and the compiled chunk is reused). The peer
runs under `--peer-python` (default: this interpreter) when `torch` and `torchdiffeq` import
there (they are never dependencies of dynml), on one thread (`torch.set_num_threads(1)`);
otherwise it says so. Prints both times, the compile seconds, and the ratios dynml / peer in
wall and CPU time (target <= 1/3, goal 1/5).

    .venv/bin/python benchmarks/flow_vs_peer.py [--peer-python /path/to/python] [--n-steps 20]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NO_PEER = 3  # exit status of a peer child without torch / torchdiffeq


def task(n_train: int = 2000, n_test: int = 1000, seed: int = 0):
    from dynml.systems.seed_flow import labels

    rng = np.random.default_rng(seed)
    n = n_train + n_test
    z = rng.uniform(-1.3, 1.3, (2 * n, 2)).astype(np.float32)
    y, ok = labels(z, 4.0)
    z, y = z[ok][:n], y[ok][:n].astype(np.float32)
    return (z[:n_train], y[:n_train]), (z[n_train:], y[n_train:])


def dynml_time_to(target, train, test, args):
    import jax

    from dynml.core import fit
    from dynml.core.compile import CompileStats, enable_persistent_cache
    from dynml.flows import FlowModel, binary_cross_entropy, predict

    enable_persistent_cache(args.cache)
    stats = CompileStats().__enter__()
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
                break
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stats.__exit__()
    if acc < target:
        wall = cpu = float("nan")
    return dict(wall=wall, cpu=cpu, steps=steps, acc=acc, compile_s=stats.compile_seconds,
                compilations=stats.compilations)  # fmt: skip


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
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    return dict(wall=wall, cpu=cpu, steps=step, acc=acc, compile_s=0.0)
    return dict(wall=float("nan"), cpu=float("nan"), steps=step, acc=acc, compile_s=0.0)


def child(args) -> None:
    """One side's run on the saved task; prints its result as one JSON line."""
    os.environ.setdefault("DYNML_PROGRESS", "0")
    saved = np.load(args.data)
    train, test = (saved["z_tr"], saved["y_tr"]), (saved["z_te"], saved["y_te"])
    if args.child == "peer":
        try:
            import torch  # noqa: F401
            import torchdiffeq  # noqa: F401
        except ImportError:
            sys.exit(NO_PEER)
        out = peer_time_to(args.target, train, test, args)
    else:
        out = dynml_time_to(args.target, train, test, args)
    print(json.dumps(out))


def spawn(python: str, side: str, data: Path, cache: Path, args) -> dict | None:
    """Run `side` in a fresh process of `python`; its JSON result (None: no peer there)."""
    flags = ["--n-steps", str(args.n_steps), "--lr", str(args.lr), "--check", str(args.check)]
    flags += ["--max-steps", str(args.max_steps), "--target", str(args.target)]
    cmd = [python, __file__, "--child", side, "--data", str(data), "--cache", str(cache), *flags]
    env = dict(os.environ, DYNML_PROGRESS="0")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if side == "peer" and done.returncode == NO_PEER:
        return None
    if done.returncode != 0:
        sys.exit(f"{side} run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-steps", type=int, default=20, help="RK4 steps over [0, 1]")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--check", type=int, default=100, help="steps between accuracy checks")
    parser.add_argument("--max-steps", type=int, default=6000)
    parser.add_argument("--target", type=float, default=0.98)
    parser.add_argument(
        "--peer-python", default=sys.executable, help="interpreter with torch and torchdiffeq"
    )
    parser.add_argument("--child", choices=("dynml", "peer"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    with tempfile.TemporaryDirectory(prefix="flow-vs-peer-") as tmp:
        (z_tr, y_tr), (z_te, y_te) = task()
        data, cache = Path(tmp) / "task.npz", Path(tmp) / "jax-cache"
        np.savez(data, z_tr=z_tr, y_tr=y_tr, z_te=z_te, y_te=y_te)
        rows = {"dynml (cold cache)": spawn(sys.executable, "dynml", data, cache, args)}
        peer = spawn(args.peer_python, "peer", data, cache, args)
        rows["dynml (warm cache)"] = spawn(sys.executable, "dynml", data, cache, args)
    print(
        f"flow task, width 32, RK4 x {args.n_steps}, Adam {args.lr}, batch 256, target {args.target}"
    )
    if peer is None:
        print(f"peer skipped: torch and torchdiffeq do not import under {args.peer_python}")
    else:
        rows["torchdiffeq (1 thread)"] = peer
    for name, r in rows.items():
        print(
            f"  {name:24s}: {r['wall']:7.2f} s wall {r['cpu']:7.2f} s CPU  {r['steps']:5d} steps  "
            f"acc {r['acc']:.4f}  compile {r['compile_s']:5.2f} s  "
            f"{1e3 * r['cpu'] / r['steps']:5.1f} ms CPU/step (all in)"
        )
    if peer is not None:
        for name in ("dynml (cold cache)", "dynml (warm cache)"):
            r = rows[name]
            print(
                f"  ratio {name} / peer: {r['wall'] / peer['wall']:.3f} wall, "
                f"{r['cpu'] / peer['cpu']:.3f} CPU   (target <= 0.33, goal 0.2)"
            )


if __name__ == "__main__":
    main()
