"""The validation split seen during training: crops of the adaptive benchmark's 12 photos
(never trained on) at the restoration issue's four degradations, and held-out design
assets (other fonts, another seed) at JPEG q60. Figures are dB gained over the input
(PSNR on 0-255 RGB), mean and worst crop, per variant.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps

from . import data, prepare
from .degrade import benchmark_variant, to_uint8
from .paths import DATA_DIR

VARIANTS = ("clean", "phone", "heavy", "noisy")
CROP = 320
LONG_EDGE = 1920  # as bench/lib/photos.ts


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def photo_original(path) -> np.ndarray:
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    img.thumbnail((LONG_EDGE, LONG_EDGE), Image.LANCZOS)
    return np.asarray(img)


def run_net(net, img_u8: np.ndarray, device, strength: float = 1.0) -> np.ndarray:
    x = torch.from_numpy(img_u8).permute(2, 0, 1)[None].float().div(255).to(device)
    with torch.no_grad():
        y = x + strength * net.residual(x)
    return to_uint8(y[0].permute(1, 2, 0).cpu().numpy() * 255.0)


class ValidationSet:
    def __init__(self, items: list[tuple[str, str, np.ndarray, np.ndarray]]):
        self.items = items  # (name, variant, input u8, target u8)

    @staticmethod
    def load() -> "ValidationSet":
        cache = DATA_DIR / f"validation-{CROP}.npz"
        if cache.exists():
            z = np.load(cache, allow_pickle=True)
            return ValidationSet(list(z["items"]))
        items = []
        for photo, path in data.validation_photos():
            orig = photo_original(path)
            h, w, _ = orig.shape
            # Two crops per photo: the centre and a third of the way in.
            for tag, (cy, cx) in (("c", (h // 2, w // 2)), ("t", (h // 3, w // 3))):
                y0 = (cy - CROP // 2) & ~15
                x0 = (cx - CROP // 2) & ~15
                tgt = orig[y0:y0 + CROP, x0:x0 + CROP].astype(np.float32)
                for v in VARIANTS:
                    items.append((f"{photo.name}-{tag}", v, to_uint8(benchmark_variant(tgt, v)), to_uint8(tgt)))
        gdir = DATA_DIR / "eval-graphics"
        for i, p in enumerate(prepare.eval_graphics(gdir)[:8]):
            tgt = np.asarray(Image.open(p).convert("RGB"))[:CROP, :CROP].astype(np.float32)
            items.append((f"graphic{i}", "q60", to_uint8(benchmark_variant(tgt, "q60")), to_uint8(tgt)))
        arr = np.empty(len(items), dtype=object)
        arr[:] = items
        np.savez(cache, items=arr)
        return ValidationSet(items)

    def evaluate(self, net, device, strength: float = 1.0) -> dict:
        net.eval()
        gains: dict[str, list[float]] = {}
        for name, v, inp, tgt in self.items:
            out = run_net(net, inp, device, strength)
            gains.setdefault(v, []).append(psnr(out, tgt) - psnr(inp, tgt))
        net.train()
        return {v: {"mean": round(float(np.mean(g)), 3), "worst": round(float(np.min(g)), 3)} for v, g in gains.items()}
