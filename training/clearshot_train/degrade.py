"""Blind, randomised degradations (modelled on Real-ESRGAN's second-order pipeline and
BSRGAN's shuffled one), applied to clean crops to make (input, target) pairs.

Images are float32 HxWx3 arrays in [0, 255]; every function takes a numpy Generator so
that a pool is reproducible from its seed alone.

The mix (see `degrade`):
- a share of clean samples (input = target), so that a clean photo stays clean;
- a share of JPEG-only samples (q 50-98): good photos as phones and web pages keep them;
- a share of noisy photos (dim indoor shots: colour or grey noise up to ~12 levels, then a
  high-quality JPEG);
- the rest: a random chain of blur (isotropic / anisotropic, sigma up to ~1.6), a resize
  round-trip, Gaussian or Poisson noise (grey or colour), JPEG q30-95 with 4:2:0 chroma,
  sometimes a second JPEG at a shifted grid, sometimes in shuffled order, sometimes a
  second, milder round.
"""
from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image
from scipy import ndimage


# ---------------------------------------------------------------- primitives

def gaussian_kernel(sx: float, sy: float, theta: float) -> np.ndarray:
    radius = max(1, int(math.ceil(3 * max(sx, sy))))
    ax = np.arange(-radius, radius + 1, dtype=np.float64)
    xx, yy = np.meshgrid(ax, ax)
    c, s = math.cos(theta), math.sin(theta)
    u = c * xx + s * yy
    v = -s * xx + c * yy
    k = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return (k / k.sum()).astype(np.float32)


def blur(img: np.ndarray, sx: float, sy: float | None = None, theta: float = 0.0) -> np.ndarray:
    """Gaussian blur, reflecting at the borders; `sy`/`theta` make it anisotropic."""
    if sy is None or abs(sx - sy) < 1e-6:
        return ndimage.gaussian_filter(img, sigma=(sx, sx, 0), mode="reflect", truncate=3.0)
    k = gaussian_kernel(sx, sy, theta)
    out = np.empty_like(img)
    for ch in range(img.shape[2]):
        out[:, :, ch] = ndimage.convolve(img[:, :, ch], k, mode="reflect")
    return out


def gaussian_noise(img: np.ndarray, sigma: float, gray: bool, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = img.shape
    if gray:
        n = rng.standard_normal((h, w, 1), dtype=np.float32) * sigma
    else:
        n = rng.standard_normal((h, w, 3), dtype=np.float32) * sigma
    return img + n


def poisson_noise(img: np.ndarray, peak: float, gray: bool, rng: np.random.Generator) -> np.ndarray:
    """Shot noise with `peak` photons at white."""
    x = np.clip(img, 0, 255) / 255.0
    if gray:
        y = x.mean(axis=2, keepdims=True)
        noisy = rng.poisson(y * peak).astype(np.float32) / peak
        return img + (noisy - y) * 255.0
    noisy = rng.poisson(x * peak).astype(np.float32) / peak
    return noisy * 255.0


def to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int, subsampling: int = 2) -> np.ndarray:
    """JPEG round trip (libjpeg through Pillow). subsampling 2 = 4:2:0, 0 = 4:4:4."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(img)).save(buf, format="JPEG", quality=int(quality), subsampling=subsampling)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32)


def resize(img: np.ndarray, w: int, h: int, method: str) -> np.ndarray:
    filt = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "area": Image.BOX, "lanczos": Image.LANCZOS}[method]
    # Pillow resizes 8-bit images; a float round trip through 'F' planes keeps precision.
    planes = [Image.fromarray(img[:, :, c].astype(np.float32), mode="F").resize((w, h), filt) for c in range(3)]
    return np.stack([np.asarray(p, dtype=np.float32) for p in planes], axis=2)


# ---------------------------------------------------------------- random steps

def _rand_blur(img, rng, max_sigma=1.6):
    if rng.random() < 0.6:
        s = rng.uniform(0.2, max_sigma)
        return blur(img, s)
    sx = rng.uniform(0.2, max_sigma)
    sy = rng.uniform(0.2, max_sigma)
    return blur(img, sx, sy, rng.uniform(0, math.pi))


def _rand_resize(img, rng):
    h, w, _ = img.shape
    f = rng.uniform(1.1, 2.0)
    down = rng.choice(["bicubic", "bilinear", "area"])
    up = rng.choice(["bicubic", "bilinear", "lanczos"])
    small = resize(img, max(8, round(w / f)), max(8, round(h / f)), down)
    return resize(small, w, h, up)


def _rand_noise(img, rng, max_sigma=12.0):
    gray = rng.random() < 0.4
    if rng.random() < 0.7:
        return gaussian_noise(img, rng.uniform(1.0, max_sigma), gray, rng)
    peak = math.exp(rng.uniform(math.log(300), math.log(5000)))
    return poisson_noise(img, peak, gray, rng)


def _rand_jpeg(img, rng, qlo=30, qhi=95):
    sub = 2 if rng.random() < 0.85 else 0
    out = jpeg(img, int(rng.integers(qlo, qhi + 1)), sub)
    if rng.random() < 0.2:
        # A second compression at a shifted grid (a re-saved, cropped photo): shift by a
        # few pixels, compress, shift back (edges are replicated).
        dy, dx = (int(v) for v in rng.integers(1, 8, size=2))
        padded = np.pad(out, ((dy, 0), (dx, 0), (0, 0)), mode="edge")
        out = jpeg(padded, int(rng.integers(qlo, qhi + 1)), sub)[dy:, dx:]
    return out


def degrade(target: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Returns the degraded input (float, not yet quantised) and a short label of the recipe."""
    r = rng.random()
    if r < 0.10:
        return target.copy(), "clean"
    if r < 0.30:
        q = int(rng.integers(50, 99))
        return jpeg(target, q, 2 if rng.random() < 0.9 else 0), f"jpeg{q}"
    if r < 0.42:
        img = _rand_noise(target, rng, max_sigma=12.0)
        if rng.random() < 0.3:
            img = _rand_blur(img, rng, max_sigma=0.8)
        return _rand_jpeg(to_uint8(img).astype(np.float32), rng, 75, 95), "noisy"
    img = target
    steps = ["blur", "resize", "noise"]
    if rng.random() < 0.3:
        rng.shuffle(steps)
    label = []
    for rounds in range(2 if rng.random() < 0.15 else 1):
        second = rounds == 1
        for s in steps:
            if s == "blur" and rng.random() < (0.7 if not second else 0.4):
                img = _rand_blur(img, rng, 1.6 if not second else 0.8)
                label.append("b")
            elif s == "resize" and rng.random() < (0.2 if not second else 0.1):
                img = _rand_resize(img, rng)
                label.append("r")
            elif s == "noise" and rng.random() < (0.6 if not second else 0.3):
                img = _rand_noise(img, rng, 12.0 if not second else 5.0)
                label.append("n")
        if rng.random() < 0.85:
            img = _rand_jpeg(to_uint8(img).astype(np.float32), rng, 30 if not second else 50, 95)
            label.append("j")
    return img, "chain-" + "".join(label)


# ---------------------------------------------------------------- fixed benchmark variants

def benchmark_variant(target: np.ndarray, variant: str, seed: int = 7) -> np.ndarray:
    """The restoration issue's benchmark degradations, for validation inside training
    (the TypeScript benchmark, bench/restore.ts, is the reference; this mirrors it)."""
    rng = np.random.default_rng(seed)
    if variant == "clean":
        return jpeg(target, 95)
    if variant == "phone":
        return jpeg(target, 75)
    if variant == "heavy":
        x = blur(target, 1.2)
        x = gaussian_noise(x, 4.0, False, rng)
        return jpeg(x, 40)
    if variant == "noisy":
        x = gaussian_noise(target, 8.0, False, rng)
        return jpeg(x, 90)
    if variant == "q60":
        return jpeg(target, 60)
    raise ValueError(variant)
