"""Training loop: Charbonnier (+ a small FFT term), Adam, warm-up + cosine schedule, EMA
of the weights, fixed seeds, pre-generated pools, checkpoints that resume exactly.

Exact resume: everything random is a function of (seed, step) - the pool a step draws
from, the batch's indices and its flips - so a resumed run sees the same batches as an
uninterrupted one; the checkpoint holds the model, its EMA, the optimiser and the step.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import prepare
from .model import RestoreNet, build
from .paths import RUNS_DIR
from .validate import ValidationSet

DEFAULTS = {
    "channels": 48,
    "blocks": 6,
    "unshuffle": 2,
    "steps": 60000,
    "batch": 16,
    "lr": 5e-4,
    "min_lr_ratio": 0.01,
    "warmup": 500,
    "weight_decay": 0.0,
    "ema": 0.999,
    "fft_weight": 0.05,
    "seed": 20261203,
    "pool_size": 8192,
    "steps_per_pool": 2000,
    "ckpt_every": 250,
    "eval_every": 2000,
}


def charbonnier(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((a - b) ** 2 + eps * eps).mean()


def fft_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    fa = torch.fft.rfft2(a, norm="ortho")
    fb = torch.fft.rfft2(b, norm="ortho")
    return (fa - fb).abs().mean()


def lr_at(step: int, cfg: dict) -> float:
    base, warm, total = cfg["lr"], cfg["warmup"], cfg["steps"]
    if step < warm:
        return base * (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total - warm))
    lo = base * cfg["min_lr_ratio"]
    return lo + 0.5 * (base - lo) * (1 + math.cos(math.pi * t))


def batch_for(step: int, cfg: dict, xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng([cfg["seed"], 7, step])
    idx = torch.from_numpy(rng.integers(0, xs.shape[0], size=cfg["batch"]))
    x = xs[idx].permute(0, 3, 1, 2).float().div_(255.0)
    y = ys[idx].permute(0, 3, 1, 2).float().div_(255.0)
    # One of the 8 flips/rotations per batch (even patch sizes keep the 2x2 grid).
    k = int(rng.integers(8))
    if k & 1:
        x, y = x.flip(3), y.flip(3)
    if k & 2:
        x, y = x.flip(2), y.flip(2)
    if k & 4:
        x, y = x.transpose(2, 3), y.transpose(2, 3)
    return x.contiguous(), y.contiguous()


class Run:
    def __init__(self, name: str, overrides: dict | None = None):
        self.dir = RUNS_DIR / name
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg_file = self.dir / "config.json"
        if cfg_file.exists():
            self.cfg = json.loads(cfg_file.read_text())
            # Only the schedule's length may be changed on resume (to extend a run).
            for k, v in (overrides or {}).items():
                if k == "steps" and v is not None:
                    self.cfg[k] = v
        else:
            self.cfg = {**DEFAULTS, **{k: v for k, v in (overrides or {}).items() if v is not None}}
        cfg_file.write_text(json.dumps(self.cfg, indent=2))
        self.ckpt = self.dir / "checkpoint.pt"

    def log(self, file: str, rec: dict) -> None:
        with open(self.dir / file, "a") as f:
            f.write(json.dumps(rec) + "\n")


def ema_update(ema: RestoreNet, net: RestoreNet, decay: float) -> None:
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), net.parameters()):
            pe.mul_(decay).add_(p.detach(), alpha=1 - decay)


def train(name: str, overrides: dict | None = None, max_minutes: float | None = None, threads: int | None = None, init_from: str | None = None) -> Path:
    run = Run(name, overrides)
    cfg = run.cfg
    torch.set_num_threads(threads or int(os.environ.get("CLEARSHOT_TRAIN_THREADS", os.cpu_count() or 1)))
    torch.manual_seed(cfg["seed"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net = build(cfg).to(device)
    ema = build(cfg).to(device)
    ema.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"], betas=(0.9, 0.99), weight_decay=cfg["weight_decay"])
    step = 0
    wall = 0.0
    if run.ckpt.exists():
        state = torch.load(run.ckpt, map_location=device)
        net.load_state_dict(state["net"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        wall = state.get("wall", 0.0)
        print(f"resumed {name} at step {step} ({wall / 3600:.2f} h so far)", flush=True)
    if step == 0 and init_from:
        # A warm start: another run's weights (and EMA), a fresh optimiser and schedule.
        src = torch.load(RUNS_DIR / init_from / "checkpoint.pt", map_location=device)
        net.load_state_dict(src["net"])
        ema.load_state_dict(src["ema"])
        cfg["init_from"] = {"run": init_from, "step": int(src["step"])}
        (run.dir / "config.json").write_text(json.dumps(cfg, indent=2))
        print(f"warm start from {init_from} at its step {src['step']}", flush=True)
    val = ValidationSet.load()
    pool_id = -1
    xs = ys = None
    t_start = time.time()
    t_log = time.time()
    losses: list[float] = []

    def save() -> None:
        tmp = run.ckpt.with_suffix(".tmp")
        torch.save({"net": net.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step, "wall": wall + (time.time() - t_start), "config": cfg}, tmp)
        os.replace(tmp, run.ckpt)

    while step < cfg["steps"]:
        want = step // cfg["steps_per_pool"]
        if want != pool_id:
            t0 = time.time()
            path = prepare.make_pool(cfg["seed"], want, cfg["pool_size"])
            x_np, y_np = prepare.load_pool(path)
            xs, ys = torch.from_numpy(x_np), torch.from_numpy(y_np)
            if pool_id >= 0 and not cfg.get("keep_pools", False):
                # Pools are reproducible from (seed, k): the used one need not stay on disk.
                prepare.pool_path(cfg["seed"], pool_id, cfg["pool_size"]).unlink(missing_ok=True)
            pool_id = want
            print(f"pool {want} ready in {time.time() - t0:.1f} s", flush=True)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        x, y = batch_for(step, cfg, xs, ys)
        x, y = x.to(device), y.to(device)
        out = net(x)
        loss = charbonnier(out, y)
        if cfg["fft_weight"] > 0:
            loss = loss + cfg["fft_weight"] * fft_l1(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        decay = min(cfg["ema"], (1 + step) / (10 + step))
        ema_update(ema, net, decay)
        losses.append(float(loss))
        step += 1
        if step % 100 == 0:
            now = time.time()
            rec = {"step": step, "loss": float(np.mean(losses)), "lr": lr_at(step - 1, cfg), "sps": 100 / (now - t_log), "wall_h": (wall + now - t_start) / 3600}
            run.log("train.jsonl", rec)
            print(json.dumps(rec), flush=True)
            losses.clear()
            t_log = now
        if step % cfg["ckpt_every"] == 0 or step == cfg["steps"]:
            save()
        if step % cfg["eval_every"] == 0 or step == cfg["steps"]:
            res = val.evaluate(ema, device)
            res["step"] = step
            run.log("val.jsonl", res)
            print("val", json.dumps(res), flush=True)
            torch.save({"ema": ema.state_dict(), "config": cfg, "step": step}, run.dir / f"ema-{step:06d}.pt")
        if max_minutes is not None and (time.time() - t_start) > max_minutes * 60:
            save()
            print(f"stopping after {max_minutes} min at step {step} (resume with the same command)", flush=True)
            break
    save()
    return run.dir
