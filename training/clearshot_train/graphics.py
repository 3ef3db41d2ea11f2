"""Design assets drawn by code: pages of text, logos, flat shapes, gradients and line art.

Each image is drawn at twice its size and shrunk with an area filter, so its edges are
anti-aliased the way rendered text and vector art are. Fonts come from Debian `fonts-*`
packages (data.py); the training graphics and the evaluation graphics use disjoint font
sets and seeds.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORDS = (
    "photo enhancement quality service clear shot invoice total amount date customer order "
    "product price sale summer winter design studio brand logo market coffee garden street "
    "the of and to in is for on with as by at from this that new free best open hours "
    "welcome contact email phone address page chapter section figure table report annual "
    "revenue growth team project delivery shipping return policy terms conditions privacy "
    "2024 2025 12.99 49.00 100% No. 7 A4 ID #42 @home www.example.org"
).split()


def _rand_color(rng: np.random.Generator, dark: bool | None = None) -> tuple[int, int, int]:
    if dark is None:
        return tuple(int(v) for v in rng.integers(0, 256, size=3))
    base = rng.integers(0, 90, size=3) if dark else rng.integers(170, 256, size=3)
    return tuple(int(v) for v in base)


def _background(w: int, h: int, rng: np.random.Generator) -> Image.Image:
    kind = rng.choice(["flat", "flat", "linear", "radial", "paper"])
    if kind == "flat":
        return Image.new("RGB", (w, h), _rand_color(rng, dark=bool(rng.random() < 0.25)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0 = np.array(_rand_color(rng), dtype=np.float32)
    c1 = np.array(_rand_color(rng), dtype=np.float32)
    if kind == "linear":
        a = rng.uniform(0, 2 * math.pi)
        t = (xx * math.cos(a) + yy * math.sin(a))
        t = (t - t.min()) / max(1e-6, t.max() - t.min())
    elif kind == "radial":
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        t = t / max(1e-6, t.max())
    else:  # paper: near-white with a faint smooth tint
        c0 = np.array(_rand_color(rng, dark=False), dtype=np.float32)
        c1 = np.clip(c0 + rng.uniform(-12, 12, size=3), 0, 255).astype(np.float32)
        t = (xx + yy) / (w + h)
    img = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8))


def _font(fonts: list[Path], size: int, rng: np.random.Generator) -> ImageFont.FreeTypeFont:
    for _ in range(5):
        f = fonts[int(rng.integers(len(fonts)))]
        try:
            return ImageFont.truetype(str(f), size)
        except OSError:
            continue
    return ImageFont.truetype(str(fonts[0]), size)


def _words(rng: np.random.Generator, n: int) -> str:
    return " ".join(WORDS[int(i)] for i in rng.integers(len(WORDS), size=n))


def _text_page(d: ImageDraw.ImageDraw, w: int, h: int, fonts, rng) -> None:
    y = int(rng.uniform(0.02, 0.1) * h)
    ink = _rand_color(rng, dark=True)
    while y < h:
        size = int(rng.choice([18, 22, 26, 30, 36, 44, 56, 72, 96]))
        font = _font(fonts, size, rng)
        x = int(rng.uniform(0.02, 0.1) * w)
        if rng.random() < 0.15:
            ink = _rand_color(rng, dark=True)
        d.text((x, y), _words(rng, int(rng.integers(3, 14))), font=font, fill=ink)
        y += int(size * rng.uniform(1.2, 1.9))


def _shapes(d: ImageDraw.ImageDraw, w: int, h: int, rng, n: int) -> None:
    for _ in range(n):
        c = _rand_color(rng)
        x0, y0 = rng.uniform(-0.1, 1.0) * w, rng.uniform(-0.1, 1.0) * h
        sw, sh = rng.uniform(0.05, 0.5) * w, rng.uniform(0.05, 0.5) * h
        kind = rng.choice(["rect", "ellipse", "poly", "rounded"])
        box = [x0, y0, x0 + sw, y0 + sh]
        outline = _rand_color(rng) if rng.random() < 0.3 else None
        width = int(rng.integers(2, 12))
        if kind == "rect":
            d.rectangle(box, fill=c, outline=outline, width=width)
        elif kind == "ellipse":
            d.ellipse(box, fill=c, outline=outline, width=width)
        elif kind == "rounded":
            d.rounded_rectangle(box, radius=int(min(sw, sh) * 0.2), fill=c, outline=outline, width=width)
        else:
            k = int(rng.integers(3, 7))
            pts = [(x0 + rng.uniform(0, sw), y0 + rng.uniform(0, sh)) for _ in range(k)]
            d.polygon(pts, fill=c, outline=outline)


def _line_art(d: ImageDraw.ImageDraw, w: int, h: int, rng, n: int) -> None:
    ink = _rand_color(rng, dark=bool(rng.random() < 0.7))
    for _ in range(n):
        width = int(rng.integers(1, 8))
        if rng.random() < 0.5:
            d.line([(rng.uniform(0, w), rng.uniform(0, h)) for _ in range(2)], fill=ink, width=width)
        else:
            # A cubic Bezier curve as a polyline.
            p = [np.array([rng.uniform(0, w), rng.uniform(0, h)]) for _ in range(4)]
            t = np.linspace(0, 1, 64)[:, None]
            pts = ((1 - t) ** 3) * p[0] + 3 * ((1 - t) ** 2) * t * p[1] + 3 * (1 - t) * t * t * p[2] + t ** 3 * p[3]
            d.line([tuple(q) for q in pts], fill=ink, width=width, joint="curve")


def _logo(d: ImageDraw.ImageDraw, w: int, h: int, fonts, rng) -> None:
    cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
    r = rng.uniform(0.08, 0.25) * min(w, h)
    c = _rand_color(rng)
    if rng.random() < 0.5:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=c)
    else:
        d.rounded_rectangle([cx - r, cy - r, cx + r, cy + r], radius=int(r * 0.3), fill=c)
    letters = "".join(chr(int(v)) for v in rng.integers(65, 91, size=int(rng.integers(1, 4))))
    font = _font(fonts, int(r * 1.1), rng)
    d.text((cx, cy), letters, font=font, fill=_rand_color(rng, dark=bool(sum(c) > 380)), anchor="mm")
    name = _words(rng, int(rng.integers(1, 3))).upper()
    font2 = _font(fonts, int(rng.uniform(0.4, 0.8) * r), rng)
    d.text((cx, cy + r * 1.2), name, font=font2, fill=_rand_color(rng, dark=True), anchor="mt")


def make_graphic(size: int, fonts: list[Path], rng: np.random.Generator) -> np.ndarray:
    """One design asset (size x size RGB, uint8)."""
    big = size * 2
    img = _background(big, big, rng)
    d = ImageDraw.Draw(img)
    kind = rng.choice(["page", "page", "logo", "shapes", "lines", "mixed"])
    if kind == "page":
        _text_page(d, big, big, fonts, rng)
    elif kind == "logo":
        _shapes(d, big, big, rng, int(rng.integers(0, 3)))
        _logo(d, big, big, fonts, rng)
    elif kind == "shapes":
        _shapes(d, big, big, rng, int(rng.integers(3, 12)))
    elif kind == "lines":
        _line_art(d, big, big, rng, int(rng.integers(5, 30)))
    else:
        _shapes(d, big, big, rng, int(rng.integers(2, 6)))
        _line_art(d, big, big, rng, int(rng.integers(2, 10)))
        _logo(d, big, big, fonts, rng)
        if rng.random() < 0.7:
            _text_page(d, big, big // 2, fonts, rng)
    return np.asarray(img.reduce(2), dtype=np.uint8)


def make_set(out_dir: Path, count: int, size: int, fonts: list[Path], seed: int) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        p = out_dir / f"g{i:04d}.png"
        arr = make_graphic(size, fonts, rng)
        if not p.exists():
            Image.fromarray(arr).save(p)
        paths.append(p)
    return paths
