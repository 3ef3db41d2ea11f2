"""Export of a (merged) RestoreNet to ONNX, with the service's I/O names and opset."""
from __future__ import annotations

import copy
import io

import torch

from .model import RestoreNet

# The service's converters write opset 17 and name the tensors `input` / `output`
# (src/engine/models/ncnn-to-onnx.ts); the exported network follows them.
OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "output"


def merged_copy(net: RestoreNet) -> RestoreNet:
    m = copy.deepcopy(net).eval()
    return m.merge()


def to_onnx_bytes(net: RestoreNet, sample_hw: tuple[int, int] = (64, 64)) -> bytes:
    """Serialises a merged copy of `net` (dynamic height and width, batch 1)."""
    m = merged_copy(net)
    x = torch.rand(1, 3, *sample_hw)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            m,
            x,
            buf,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {2: "height", 3: "width"}, OUTPUT_NAME: {2: "height", 3: "width"}},
            do_constant_folding=True,
        )
    return buf.getvalue()
