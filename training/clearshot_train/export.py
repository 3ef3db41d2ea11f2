"""Export: load a run's EMA weights, merge the re-parameterised blocks, write the ONNX
file and a small reference (input and the training graph's output) for the service's
test, and check that ONNX Runtime (when importable) or the merged torch graph matches
the training graph within 1e-4 on real patches."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from .model import build
from .onnx_export import merged_copy, to_onnx_bytes
from .paths import REPO_ROOT, RUNS_DIR

DEFAULT_OUT = REPO_ROOT / "models" / "restore-1x.onnx"
REFERENCE_SIZE = 32


def load_ema(run: str, checkpoint: str | None = None):
    d = RUNS_DIR / run
    if checkpoint:
        state = torch.load(d / checkpoint if not Path(checkpoint).is_absolute() else checkpoint, map_location="cpu")
    else:
        state = torch.load(d / "checkpoint.pt", map_location="cpu")
    net = build(state["config"])
    net.load_state_dict(state["ema"])
    return net.eval(), int(state["step"])


def equivalence(net, merged, patches: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(patches) - merged(patches)).abs().max())


def onnx_equivalence(onnx_bytes: bytes, net, patches: torch.Tensor) -> float | None:
    try:
        import onnxruntime as ort  # optional: not packaged in Debian
    except ImportError:
        return None
    s = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    worst = 0.0
    for i in range(patches.shape[0]):
        x = patches[i:i + 1]
        y = s.run(None, {"input": x.numpy()})[0]
        with torch.no_grad():
            worst = max(worst, float(np.abs(y - net(x).numpy()).max()))
    return worst


def real_patches(n: int = 8, size: int = 64) -> torch.Tensor:
    from .validate import ValidationSet
    items = ValidationSet.load().items
    rng = np.random.default_rng(5)
    out = []
    for i in rng.choice(len(items), size=n, replace=False):
        inp = items[int(i)][2]
        out.append(inp[:size, :size])
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255


def export_run(run: str, checkpoint: str | None = None, out: str | None = None) -> dict:
    net, step = load_ema(run, checkpoint)
    merged = merged_copy(net)
    patches = real_patches()
    diff_torch = equivalence(net, merged, patches)
    onnx_bytes = to_onnx_bytes(net)
    diff_onnx = onnx_equivalence(onnx_bytes, net, patches)
    if diff_torch >= 1e-4 or (diff_onnx is not None and diff_onnx >= 1e-4):
        raise SystemExit(f"merged graph differs from the training graph: torch {diff_torch}, onnx {diff_onnx}")
    path = Path(out) if out else DEFAULT_OUT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onnx_bytes)
    # Reference for the service's test: a real 32x32 patch and the training graph's output.
    x = patches[:1, :, :REFERENCE_SIZE, :REFERENCE_SIZE].contiguous()
    with torch.no_grad():
        y = net(x)
    ref = {
        "model_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "shape": [1, 3, REFERENCE_SIZE, REFERENCE_SIZE],
        "input": [round(float(v), 7) for v in x.flatten()],
        "output": [round(float(v), 7) for v in y.flatten()],
    }
    ref_path = path.with_suffix(".reference.json")
    ref_path.write_text(json.dumps(ref))
    params = sum(p.numel() for p in merged.parameters())
    return {
        "run": run,
        "step": step,
        "onnx": str(path),
        "bytes": len(onnx_bytes),
        "sha256": ref["model_sha256"],
        "parameters_merged": params,
        "macs_per_pixel": net.macs_per_pixel(),
        "max_abs_diff_merged_torch": diff_torch,
        "max_abs_diff_onnx": diff_onnx,
        "reference": str(ref_path),
    }
