"""Tiny-batch check: on a fixed batch of 8 synthetic patches, the loss must fall clearly
within a few hundred steps. Run it before any long run (a network that cannot fit
8 patches will not learn from millions)."""
from __future__ import annotations

import numpy as np
import torch

from .degrade import degrade, to_uint8
from .model import RestoreNet
from .train import charbonnier


def synthetic_batch(n: int = 8, size: int = 64, seed: int = 0, noise_only: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for _ in range(n):
        img = np.zeros((size, size, 3), np.float32)
        for c in range(3):
            img[:, :, c] = 128 + 60 * np.sin(xx * rng.uniform(0.05, 0.4) + yy * rng.uniform(0.05, 0.4) + rng.uniform(0, 6))
        x0, y0 = rng.integers(0, size // 2, size=2)
        img[y0:y0 + size // 3, x0:x0 + size // 3] = rng.uniform(0, 255, size=3)
        tgt = to_uint8(img).astype(np.float32)
        if noise_only:
            xs.append(to_uint8(tgt + rng.standard_normal(tgt.shape).astype(np.float32) * 12))
            ys.append(to_uint8(tgt))
            continue
        while True:
            deg, label = degrade(tgt, rng)
            if label != "clean":
                break
        xs.append(to_uint8(deg))
        ys.append(to_uint8(tgt))
    f = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).float() / 255
    return f(xs), f(ys)


def loss_falls(steps: int = 300, channels: int = 32, blocks: int = 4, verbose: bool = False, lr: float = 1e-3, noise_only: bool = False) -> bool:
    torch.manual_seed(0)
    x, y = synthetic_batch(noise_only=noise_only)
    net = RestoreNet(channels, blocks, 2)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    first = last = None
    for s in range(steps):
        loss = charbonnier(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if first is None:
            first = float(loss)
        last = float(loss)
        if verbose and s % 50 == 0:
            print(f"step {s}: loss {float(loss):.5f}", flush=True)
    ok = last < 0.8 * first
    if verbose:
        print(f"loss {first:.5f} -> {last:.5f}: {'falls' if ok else 'DOES NOT FALL'}")
    return ok
