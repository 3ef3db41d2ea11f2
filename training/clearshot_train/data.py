"""Training data: photographs from Debian wallpaper packages, and the fonts for the
generated design assets.

Only the packages named in the restoration issue train, and of those only the files
listed in PHOTOS (photographs, not the packages' graphics). The 12 photos of the adaptive
benchmark (bench/lib/photos.ts) are the validation split and never train: they are
listed in VALIDATION and refused by `training_photos()`.

Every file is fetched with `apt-get download` and unpacked with `dpkg-deb -x` into
DATA_DIR/debs (never committed). Authors and licences are those of each package's
debian/copyright file.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .paths import DEBS_DIR


@dataclass(frozen=True)
class Photo:
    name: str
    pkg: str
    path: str  # inside the package
    author: str
    license: str


_L16 = "usr/share/backgrounds"
_MATE = "usr/share/backgrounds/mate/nature"

# Training photographs (15). Graphics in these packages (gnome-backgrounds 43 has only
# rendered art, ukui/sway/lomiri-wallpapers are illustrations, Infinite-Sea is a
# composite, Elephants a painting) are left out on purpose.
PHOTOS: tuple[Photo, ...] = (
    Photo("Picture_0B", "lomiri-wallpapers-16.04", f"{_L16}/Picture_0B_by_freespace.jpg", 'Trevor "Freespace", 2018', "CC-BY-4.0"),
    Photo("Picture_1A", "lomiri-wallpapers-16.04", f"{_L16}/Picture_1A_by_freespace.jpg", 'Trevor "Freespace", 2018', "CC-BY-4.0"),
    Photo("Wine", "lomiri-wallpapers-16.04", f"{_L16}/Wine_by_Jakkub_Mede.jpg", "Jakub Mede, 2018", "CC-BY-4.0"),
    Photo("analogpattern", "lomiri-wallpapers-16.04", f"{_L16}/analogpattern_by_Peter_Nerlich.jpg", "Peter Nerlich, 2018", "CC-BY-SA-4.0"),
    Photo("free", "lomiri-wallpapers-16.04", f"{_L16}/free_by_Peter_Nerlich.jpg", "Peter Nerlich, 2018", "CC-BY-SA-4.0"),
    Photo("friends", "lomiri-wallpapers-16.04", f"{_L16}/friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    Photo("greentock", "lomiri-wallpapers-16.04", f"{_L16}/greentock_by_Peter_Nerlich.jpg", "Peter Nerlich, 2018", "CC-BY-SA-4.0"),
    Photo("life", "lomiri-wallpapers-16.04", f"{_L16}/life_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    Photo("picosdeeuropa", "lomiri-wallpapers-16.04", f"{_L16}/picosdeeuropa_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    Photo("seeding", "lomiri-wallpapers-16.04", f"{_L16}/seeding_by_Clements_Engelhardt.jpg", "Clemens Engelhardt, 2018", "CC0-1.0"),
    Photo("sunset", "lomiri-wallpapers-16.04", f"{_L16}/sunset_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    Photo("Kleiber", "lomiri-wallpapers-20.04", f"{_L16}/Kleiber_by_Lukas_Baubkus.jpg", "Lukas Baubkus, 2021", "CC-BY-SA-3.0"),
    Photo("Dune", "mate-backgrounds", f"{_MATE}/Dune.jpg", "Marco Cogoni, 2007; Hylke Bons, 2008", "GPL-2+"),
    Photo("FreshFlower", "mate-backgrounds", f"{_MATE}/FreshFlower.jpg", "Jens Ansorg, 2005", "GPL-2+"),
    Photo("GreenMeadow", "mate-backgrounds", f"{_MATE}/GreenMeadow.jpg", "Timothy Schellhase, 2005; Lapo Calamandrei, 2008", "GPL-2+"),
)

# The adaptive benchmark's photos (bench/lib/photos.ts): validation only, never trained on.
VALIDATION: tuple[Photo, ...] = tuple(
    Photo(n, "mate-backgrounds", f"{_MATE}/{n}.jpg", a, "GPL-2+")
    for n, a in (
        ("Aqua", "Charles Barbin, 2008"),
        ("Blinds", "Lennart Poettering, Andrea Cimitan, 2008"),
        ("Garden", "Charles Barbin, 2008"),
        ("LadyBird", "Charles Barbin, 2008"),
        ("RainDrops", '"blackcombwhistler07", 2008'),
        ("Storm", "Sergey Nazarov, 2008"),
        ("TwoWings", "Charles Barbin, Hylke Bons, 2008"),
        ("Wood", "see the package copyright file"),
        ("YellowFlower", "Charles Barbin, 2008"),
    )
) + (
    Photo("Aitzgorri", "lomiri-wallpapers-16.04", f"{_L16}/aitzgorri_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi, 2018", "CC-BY-4.0"),
    Photo("Bridge", "lomiri-wallpapers-16.04", f"{_L16}/Bridge_by_Sander_Klootwijk.jpg", "Sander Klootwijk, 2018", "CC-BY-SA-4.0"),
    Photo("Dragonfly", "lomiri-wallpapers-16.04", f"{_L16}/Dragonfly_by_Bolly.jpg", '"Bolly", 2018', "CC-BY-SA-4.0"),
)

TRAIN_PACKAGES = (
    "mate-backgrounds",
    "lomiri-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "gnome-backgrounds",
    "ukui-wallpapers",
    "sway-backgrounds",
)

# Fonts for the generated design assets. The first group renders training graphics; the
# held-out group renders the evaluation graphics only, so that a font is never both.
TRAIN_FONT_PACKAGES = (
    "fonts-dejavu-core",
    "fonts-liberation2",
    "fonts-freefont-ttf",
    "fonts-lato",
    "fonts-roboto-unhinted",
    "fonts-comic-neue",
    "fonts-cantarell",
    "fonts-crosextra-carlito",
)
EVAL_FONT_PACKAGES = ("fonts-open-sans", "fonts-ebgaramond")


def unpack(pkg: str) -> Path:
    """Downloads and unpacks one Debian package (once); returns its root."""
    root = DEBS_DIR / pkg
    if (root / "usr").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", pkg], cwd=root, check=True, stdout=subprocess.DEVNULL)
    debs = sorted(root.glob(f"{pkg}_*.deb"))
    if not debs:
        raise RuntimeError(f"apt-get download {pkg} produced no .deb (run apt-get update first)")
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(root)], check=True)
    return root


def training_photos() -> list[tuple[Photo, Path]]:
    validation = {(p.pkg, p.path) for p in VALIDATION}
    out = []
    for p in PHOTOS:
        if p.pkg not in TRAIN_PACKAGES:
            raise RuntimeError(f"{p.name}: package {p.pkg} is not a training package")
        if (p.pkg, p.path) in validation:
            raise RuntimeError(f"{p.name} is a validation photo and never trains")
        out.append((p, unpack(p.pkg) / p.path))
    return out


def validation_photos() -> list[tuple[Photo, Path]]:
    return [(p, unpack(p.pkg) / p.path) for p in VALIDATION]


def font_files(packages: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for pkg in packages:
        root = unpack(pkg)
        files += sorted(f for f in root.rglob("*") if f.suffix.lower() in (".ttf", ".otf") and f.is_file())
    return files
