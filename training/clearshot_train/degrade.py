"""Blind, randomised degradations (modelled on Real-ESRGAN's second-order pipeline and
BSRGAN's shuffled one), applied to clean crops to make (input, target) pairs.

Images are float32 HxWx3 arrays in [0, 255]; every function takes a numpy Generator so
that a pool is reproducible from its seed alone.

The mix (see `degrade`), recipe 3:
- 13% clean samples (input = target), so that a clean photo stays clean;
- 25% JPEG only (q 50-98): good photos as phones and web pages keep them;
- 12% noisy photos (dim indoor shots: colour or grey noise of 2-12 levels, sometimes a
  slight blur, then a JPEG of q 75-95);
- 4% clearly out of focus (blur sigma 1.0-1.6, then q 85-95);
- 46% a random chain: blur (isotropic or anisotropic, sigma 0.5-1.6), a resize round-trip,
  Gaussian or Poisson noise (grey or colour, 2-12 levels), JPEG q30-95 with 4:2:0 chroma,
  sometimes a second JPEG at a shifted grid, sometimes in shuffled order, sometimes a
  second, milder round. A blur always comes with other visible damage (noise, a resize
  or a JPEG of q 80 or less).

Damage too slight to see (a blur of sigma 0.2, noise of 1 level) is left out, and so is a
mild blur on an otherwise pristine input: trained on those, the network learns that every
input needs some sharpening and denoising and applies it to clean photos too. Run r1
(recipe 1) lost 1.1 dB on clean JPEG q95 crops at 4 000 steps; r2 (recipe 2, without the
invisible damage) still drew dark halos of ~40 levels along the soft edges of a clean
macro photo, the sharpening of depth of field (docs/TRAINING.md).
"""
from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image
from scipy import ndimage


# Bump when the mix below changes: pools are cached per version (prepare.pool_path).
RECIPE_VERSION = 3

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

def _rand_blur(img, rng, max_sigma=1.6, min_sigma=0.5):
    if rng.random() < 0.6:
        s = rng.uniform(min_sigma, max_sigma)
        return blur(img, s)
    sx = rng.uniform(min_sigma, max_sigma)
    sy = rng.uniform(min_sigma, max_sigma)
    return blur(img, sx, sy, rng.uniform(0, math.pi))


def _rand_resize(img, rng):
    h, w, _ = img.shape
    f = rng.uniform(1.1, 2.0)
    down = rng.choice(["bicubic", "bilinear", "area"])
    up = rng.choice(["bicubic", "bilinear", "lanczos"])
    small = resize(img, max(8, round(w / f)), max(8, round(h / f)), down)
    return resize(small, w, h, up)


def _rand_noise(img, rng, max_sigma=12.0, min_sigma=2.0):
    gray = rng.random() < 0.4
    if rng.random() < 0.7:
        return gaussian_noise(img, rng.uniform(min_sigma, max_sigma), gray, rng)
    # Shot noise: ~2-12 levels at mid grey.
    peak = math.exp(rng.uniform(math.log(200), math.log(3000)))
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
    if r < 0.13:
        return target.copy(), "clean"
    if r < 0.38:
        q = int(rng.integers(50, 99))
        return jpeg(target, q, 2 if rng.random() < 0.9 else 0), f"jpeg{q}"
    if r < 0.50:
        img = _rand_noise(target, rng, max_sigma=12.0)
        if rng.random() < 0.3:
            img = _rand_blur(img, rng, max_sigma=0.9)
        return _rand_jpeg(to_uint8(img).astype(np.float32), rng, 75, 95), "noisy"
    if r < 0.54:
        # Clearly out of focus, otherwise clean (a phone's q85-95 save).
        img = _rand_blur(target, rng, max_sigma=1.6, min_sigma=1.0)
        return jpeg(img, int(rng.integers(85, 96))), "blurred"
    img = target
    steps = ["blur", "resize", "noise"]
    if rng.random() < 0.3:
        rng.shuffle(steps)
    label = []
    damaged = False  # damage a viewer can see besides blur: noise, a resize, a low-quality JPEG
    for rounds in range(2 if rng.random() < 0.15 else 1):
        second = rounds == 1
        for s in steps:
            if s == "blur" and rng.random() < (0.7 if not second else 0.4):
                img = _rand_blur(img, rng, 1.6 if not second else 0.9)
                label.append("b")
            elif s == "resize" and rng.random() < (0.2 if not second else 0.1):
                img = _rand_resize(img, rng)
                label.append("r")
                damaged = True
            elif s == "noise" and rng.random() < (0.6 if not second else 0.3):
                img = _rand_noise(img, rng, 12.0 if not second else 5.0, 2.0)
                label.append("n")
                damaged = True
        if rng.random() < 0.85 or ("b" in label and not damaged):
            # Blur comes with other damage here: a blurred input that looks otherwise
            # pristine would teach the network to sharpen every soft edge it sees
            # (depth of field, bokeh), which r2 did (halos of 40 levels on clean photos).
            qhi = 95 if damaged or "b" not in label else 80
            img = _rand_jpeg(to_uint8(img).astype(np.float32), rng, 30 if not second else 50, qhi)
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
