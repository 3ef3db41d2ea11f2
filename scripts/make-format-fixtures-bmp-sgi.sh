#!/usr/bin/env bash
# Regenerates test/fixtures/formats/{bmp,sgi}/ with ImageMagick 6 (Debian's
# imagemagick-6.q16, /usr/bin/convert; /usr/local/bin/convert may be a stand-in that
# only writes PPM). Every fixture X comes with X.png, ImageMagick's own decoding of X,
# which the decoder tests compare against. See test/fixtures/formats/BMP-SGI.md.
set -euo pipefail
cd "$(dirname "$0")/.."
IM=/usr/bin/convert
[ -x "$IM" ] || { echo "needs ImageMagick at $IM (apt-get install imagemagick)" >&2; exit 1; }

out=test/fixtures/formats
bmp=$out/bmp
sgi=$out/sgi
rm -rf "$bmp" "$sgi"
mkdir -p "$bmp" "$sgi"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Sources: a 45x37 crop of the CC0 photo. An odd width exercises BMP row padding
# (every depth but 32-bit pads) and half-used bytes at 1 and 4 bits per pixel.
$IM test/fixtures/converter/input.png -crop 45x37+0+0 +repage -strip "$tmp/rgb.png"
# The same with a horizontal alpha ramp from 0 (left column) to 255 (right column).
$IM "$tmp/rgb.png" -alpha set -channel A -fx 'i/(w-1)' +channel "$tmp/rgba.png"
$IM "$tmp/rgb.png" -colorspace gray "$tmp/gray.png"
# 16-bit sources whose samples really use 16 bits (not 8-bit values times 257, which
# ImageMagick would store as 8-bit PNG): the photo resized to 45x37 at 16 bits.
$IM test/fixtures/converter/input.png -depth 16 -resize '45x37!' -strip "$tmp/rgb16.png"
$IM "$tmp/rgb16.png" -alpha set -channel A -fx 'i/(w-1)' +channel "$tmp/rgba16.png"
$IM "$tmp/rgb16.png" -colorspace gray "$tmp/gray16.png"

# Writes one byte at an offset, in place (for header fields ImageMagick cannot be told).
poke() { printf "$(printf '\\x%02x' "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# BMP. bmp3: = BITMAPINFOHEADER (40 bytes), bmp2: = OS/2 1.x BITMAPCOREHEADER (12 bytes),
# bmp: = BITMAPV5HEADER (124 bytes). ImageMagick 6 writes bottom-up rows only.
$IM "$tmp/rgb.png" -type bilevel bmp3:"$bmp/pal1.bmp"
$IM "$tmp/rgb.png" -colors 16 -type palette bmp3:"$bmp/pal4.bmp"
$IM "$tmp/rgb.png" -colors 200 -type palette -compress None bmp3:"$bmp/pal8.bmp"
$IM "$tmp/gray.png" -type palette -compress None bmp3:"$bmp/gray8.bmp"
$IM "$tmp/rgb.png" -colors 200 -type palette -compress RLE bmp3:"$bmp/rle8.bmp"
$IM "$tmp/rgb.png" -define bmp:subtype=RGB565 bmp:"$bmp/bitfields565.bmp"
$IM "$tmp/rgb.png" -define bmp:subtype=RGB555 bmp:"$bmp/bitfields555.bmp"
$IM "$tmp/rgb.png" -type truecolor bmp3:"$bmp/rgb24.bmp"
$IM "$tmp/rgb.png" -type truecolor bmp:"$bmp/rgb24-v5.bmp"
$IM "$tmp/rgba.png" bmp:"$bmp/rgba32-v5.bmp"
$IM "$tmp/rgb.png" -type truecolor bmp2:"$bmp/core24.bmp"
$IM "$tmp/rgb.png" -colors 200 -type palette bmp2:"$bmp/core8.bmp"
$IM "$tmp/rgb.png" -type bilevel bmp2:"$bmp/core1.bmp"
# Top-down: rows written flipped, then the height field (offset 22) set to -37.
$IM "$tmp/rgb.png" -flip -type truecolor bmp3:"$bmp/rgb24-topdown.bmp"
poke "$bmp/rgb24-topdown.bmp" 22 0xdb; poke "$bmp/rgb24-topdown.bmp" 23 0xff
poke "$bmp/rgb24-topdown.bmp" 24 0xff; poke "$bmp/rgb24-topdown.bmp" 25 0xff
# V4 (108-byte header): the V5 file with its header size field cut to 108. The pixel
# offset still points past the old 124 bytes, leaving a 16-byte gap, which is legal.
cp "$bmp/rgba32-v5.bmp" "$bmp/rgba32-v4.bmp"
poke "$bmp/rgba32-v4.bmp" 14 108

# SGI. ImageMagick 6 writes RLE only at 1 byte per channel, and gray+alpha as RGBA; the
# tests build 16-bit RLE, 2-channel and 1-D files themselves from these.
$IM "$tmp/rgb.png" -compress None sgi:"$sgi/rgb.sgi"
$IM "$tmp/rgb.png" -compress RLE sgi:"$sgi/rgb-rle.sgi"
$IM "$tmp/rgba.png" -compress None sgi:"$sgi/rgba.sgi"
$IM "$tmp/rgba.png" -compress RLE sgi:"$sgi/rgba-rle.sgi"
$IM "$tmp/gray.png" -compress None sgi:"$sgi/gray.sgi"
$IM "$tmp/gray.png" -compress RLE sgi:"$sgi/gray-rle.sgi"
$IM "$tmp/rgb16.png" -depth 16 -compress None sgi:"$sgi/rgb16.sgi"
$IM "$tmp/rgba16.png" -depth 16 -compress None sgi:"$sgi/rgba16.sgi"
$IM "$tmp/gray16.png" -depth 16 -compress None sgi:"$sgi/gray16.sgi"

# References: ImageMagick decoding each fixture (metadata stripped; depth kept).
for f in "$bmp"/*.bmp "$sgi"/*.sgi; do
  $IM "$f" -strip "$f.png"
done
