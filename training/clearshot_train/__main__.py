"""Command line: `python3 -m clearshot_train <command>` from training/ (Debian's python3
with python3-torch; see training/README.md).

  fetch                      download the photo and font packages, make the clean targets
  pools --upto K             pre-generate pools 0..K of a run (optional: train makes them)
  train --run NAME [...]     train (resumes NAME when it exists)
  export --run NAME          merge the blocks, export ONNX + reference, check equivalence
  evaluate --run NAME        validation figures of a checkpoint (strength 1 and a sweep)
  check                      tiny-batch check that the loss falls, before any long run
  selftest OUT_DIR           quick test: loss falls, merged = training graph, ONNX + reference
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="clearshot_train")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch")
    p = sub.add_parser("pools")
    p.add_argument("--run", required=True)
    p.add_argument("--upto", type=int, required=True)
    p = sub.add_parser("train")
    p.add_argument("--run", required=True)
    p.add_argument("--steps", type=int)
    p.add_argument("--channels", type=int)
    p.add_argument("--blocks", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--pool-size", type=int, dest="pool_size")
    p.add_argument("--steps-per-pool", type=int, dest="steps_per_pool")
    p.add_argument("--eval-every", type=int, dest="eval_every")
    p.add_argument("--max-minutes", type=float)
    p.add_argument("--threads", type=int)
    p.add_argument("--init-from", dest="init_from", help="start from another run's weights (fresh optimiser and schedule)")
    p = sub.add_parser("export")
    p.add_argument("--run", required=True)
    p.add_argument("--checkpoint", help="an ema-NNNNNN.pt of the run (default: the latest EMA)")
    p.add_argument("--out", default=None, help="ONNX path (default: models/restore-1x.onnx in the repository)")
    p = sub.add_parser("evaluate")
    p.add_argument("--run", required=True)
    p.add_argument("--checkpoint")
    sub.add_parser("check")
    p = sub.add_parser("selftest")
    p.add_argument("out")
    a = ap.parse_args(argv)

    if a.cmd == "fetch":
        from . import data, prepare
        print(f"{len(data.training_photos())} training photos, {len(data.validation_photos())} validation photos")
        print(f"{len(prepare.clean_targets())} clean targets, {len(prepare.graphics())} graphics")
        print(f"{len(data.font_files(data.TRAIN_FONT_PACKAGES))} training fonts, {len(data.font_files(data.EVAL_FONT_PACKAGES))} held-out fonts")
        return 0
    if a.cmd == "pools":
        from . import prepare
        from .train import Run
        cfg = Run(a.run).cfg
        for k in range(a.upto + 1):
            print(prepare.make_pool(cfg["seed"], k, cfg["pool_size"]), flush=True)
        return 0
    if a.cmd == "train":
        from .train import train
        keys = ("steps", "channels", "blocks", "batch", "lr", "pool_size", "steps_per_pool", "eval_every")
        train(a.run, {k: getattr(a, k) for k in keys}, max_minutes=a.max_minutes, threads=a.threads, init_from=a.init_from)
        return 0
    if a.cmd == "export":
        from .export import export_run
        print(json.dumps(export_run(a.run, a.checkpoint, a.out), indent=2))
        return 0
    if a.cmd == "evaluate":
        from .export import load_ema
        from .validate import ValidationSet
        import torch
        net, step = load_ema(a.run, a.checkpoint)
        val = ValidationSet.load()
        for s in (1.0, 0.75, 0.5):
            print(json.dumps({"step": step, "strength": s, **val.evaluate(net, torch.device("cpu"), s)}), flush=True)
        return 0
    if a.cmd == "selftest":
        from .selftest import main as selftest
        return selftest(a.out)
    if a.cmd == "check":
        from .check import loss_falls
        return 0 if loss_falls(verbose=True) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
