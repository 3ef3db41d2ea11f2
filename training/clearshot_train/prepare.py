"""Clean targets and degraded patch pools.

- `clean_targets()`: each training photograph, EXIF-rotated, shrunk with an area filter
  by 2 (and by 3 when it is large enough), so that its own JPEG blocks and sensor noise
  are gone; written as PNG under DATA_DIR/clean.
- `graphics()`: the generated design assets (training fonts and seed).
- `make_pool(k)`: pool k of degraded (input, target) patch pairs, reproducible from
  (seed, k) alone; a run loads pools in order and a resumed run regenerates the same ones.
"""
from __future__ import annotations

import json
import math
import os
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from . import data, graphics as gfx
from .degrade import RECIPE_VERSION, degrade, to_uint8
from .paths import CLEAN_DIR, GRAPHICS_DIR, POOLS_DIR

GRAPHICS_COUNT = 240
GRAPHICS_SIZE = 512
GRAPHICS_SEED = 1234
EVAL_GRAPHICS_COUNT = 24
EVAL_GRAPHICS_SEED = 987654


def clean_targets() -> list[Path]:
    CLEAN_DIR.mkdir(parents=True, exist_ok=True)
    out = []
    for photo, src in data.training_photos():
        img = None
        for factor in (2, 3):
            dst = CLEAN_DIR / f"{photo.name}-x{factor}.png"
            if not dst.exists():
                if img is None:
                    img = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
                if factor == 3 and max(img.size) < 3000:
                    continue
                img.reduce(factor).save(dst)
            out.append(dst)
    return out


def graphics() -> list[Path]:
    return gfx.make_set(GRAPHICS_DIR, GRAPHICS_COUNT, GRAPHICS_SIZE, data.font_files(data.TRAIN_FONT_PACKAGES), GRAPHICS_SEED)


def eval_graphics(out_dir: Path) -> list[Path]:
    """Held-out design assets: other fonts, another seed (never in a pool)."""
    return gfx.make_set(out_dir, EVAL_GRAPHICS_COUNT, GRAPHICS_SIZE, data.font_files(data.EVAL_FONT_PACKAGES), EVAL_GRAPHICS_SEED)


# ---------------------------------------------------------------- pools

PATCH = 96      # target patch edge (full resolution)
MARGIN = 24     # context degraded around it, cut away afterwards
GRAPHICS_SHARE = 0.25

_SOURCES: dict[str, list[np.ndarray]] = {}


def _load_sources(photo_files: list[str], graphic_files: list[str]) -> None:
    if _SOURCES:
        return
    _SOURCES["photos"] = [np.asarray(Image.open(f).convert("RGB")) for f in photo_files]
    _SOURCES["graphics"] = [np.asarray(Image.open(f).convert("RGB")) for f in graphic_files]


def _even(x: int) -> int:
    return x - (x % 2)


def _sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    photos, graphics_ = _SOURCES["photos"], _SOURCES["graphics"]
    big = PATCH + 2 * MARGIN
    use_graphics = rng.random() < GRAPHICS_SHARE
    while True:
        if use_graphics:
            src = graphics_[int(rng.integers(len(graphics_)))]
        else:
            areas = np.array([p.shape[0] * p.shape[1] for p in photos], dtype=np.float64)
            src = photos[int(rng.choice(len(photos), p=areas / areas.sum()))]
        h, w, _ = src.shape
        y = _even(int(rng.integers(0, h - big + 1)))
        x = _even(int(rng.integers(0, w - big + 1)))
        crop = src[y:y + big, x:x + big].astype(np.float32)
        # Mostly flat crops (sky, bokeh, blank paper) teach little; keep some of them.
        sd = float(crop.std())
        if (sd < 4.0 and rng.random() < 0.7) or (sd < 10.0 and rng.random() < 0.4):
            continue
        break
    if rng.random() < 0.15:
        # A dim shot: darkened (and slightly warmer or cooler) before the damage happens.
        gain = rng.uniform(0.25, 0.8)
        tint = 1.0 + rng.uniform(-0.08, 0.08, size=3)
        crop = np.clip(crop * gain * tint[None, None, :], 0, 255)
        crop = np.rint(crop)
    deg, label = degrade(crop, rng)
    oy = _even(int(rng.integers(0, 2 * MARGIN + 1)))
    ox = _even(int(rng.integers(0, 2 * MARGIN + 1)))
    inp = to_uint8(deg[oy:oy + PATCH, ox:ox + PATCH])
    tgt = to_uint8(crop[oy:oy + PATCH, ox:ox + PATCH])
    return inp, tgt, label


def _chunk(args) -> tuple[np.ndarray, np.ndarray, list[str]]:
    seed, start, count, photo_files, graphic_files = args
    _load_sources(photo_files, graphic_files)
    xs = np.empty((count, PATCH, PATCH, 3), np.uint8)
    ys = np.empty((count, PATCH, PATCH, 3), np.uint8)
    labels = []
    for i in range(count):
        rng = np.random.default_rng([seed, start + i])
        xs[i], ys[i], lab = _sample(rng)
        labels.append(lab)
    return xs, ys, labels


def pool_path(seed: int, k: int, size: int) -> Path:
    return POOLS_DIR / f"pool-v{RECIPE_VERSION}-s{seed}-n{size}-{k:04d}.npz"


def make_pool(seed: int, k: int, size: int, workers: int | None = None) -> Path:
    """Pool k (size patch pairs), made once and cached on disk."""
    path = pool_path(seed, k, size)
    if path.exists():
        return path
    POOLS_DIR.mkdir(parents=True, exist_ok=True)
    photos = [str(p) for p in clean_targets()]
    graphic_files = [str(p) for p in graphics()]
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    per = math.ceil(size / (workers * 4))
    jobs = [(seed * 100003 + k, s, min(per, size - s), photos, graphic_files) for s in range(0, size, per)]
    with Pool(workers) as pool:
        parts = pool.map(_chunk, jobs)
    xs = np.concatenate([p[0] for p in parts])
    ys = np.concatenate([p[1] for p in parts])
    labels = [lab for p in parts for lab in p[2]]
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, inputs=xs, targets=ys)
    os.replace(tmp, path)
    path.with_suffix(".json").write_text(json.dumps({"labels": labels}))
    return path


def load_pool(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as z:
        return z["inputs"], z["targets"]
