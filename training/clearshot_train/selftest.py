"""The training pipeline's own quick test (`python3 -m clearshot_train selftest OUT_DIR`):
a few steps on a tiny synthetic batch (the loss must fall), the merge of the
re-parameterised blocks (the merged graph must equal the training graph within 1e-4),
and an ONNX export with its reference output into OUT_DIR, which the service's test
(test/training.test.ts) runs through ONNX Runtime. Needs no downloaded data."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from .check import loss_falls, synthetic_batch
from .model import RestoreNet
from .onnx_export import merged_copy, to_onnx_bytes


def main(out_dir: str) -> int:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    ok = loss_falls(steps=300, channels=32, blocks=4, lr=1e-3)
    print(f"loss falls on a tiny batch: {ok}")
    if not ok:
        return 1
    net = RestoreNet(16, 2, 2)  # small: the merge and the export are what is tested here
    # Random (trained-looking) weights in every branch, so that the merge is exercised.
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    net.eval()
    x, _ = synthetic_batch(n=2, size=32)
    merged = merged_copy(net)
    with torch.no_grad():
        diff = float((net(x) - merged(x)).abs().max())
    print(f"merged vs training graph: max abs difference {diff:.2e}")
    if diff >= 1e-4:
        return 1
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "selftest.onnx").write_bytes(to_onnx_bytes(net))
    sample = x[:1]
    with torch.no_grad():
        y = net(sample)
    (out / "selftest.reference.json").write_text(json.dumps({"shape": list(sample.shape), "input": [float(v) for v in sample.flatten()], "output": [float(v) for v in y.flatten()]}))
    print(f"exported {out / 'selftest.onnx'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
