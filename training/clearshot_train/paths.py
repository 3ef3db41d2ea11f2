"""Where the pipeline keeps its files. Everything under DATA_DIR is fetched or
generated and never committed (the repository's .gitignore excludes data/)."""
import os
from pathlib import Path

TRAINING_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TRAINING_DIR.parent
DATA_DIR = Path(os.environ.get("CLEARSHOT_TRAIN_DATA", REPO_ROOT / "data" / "training"))
DEBS_DIR = DATA_DIR / "debs"
CLEAN_DIR = DATA_DIR / "clean"        # clean targets: photographs shrunk by area 1/2
GRAPHICS_DIR = DATA_DIR / "graphics"  # generated design assets (train split)
POOLS_DIR = DATA_DIR / "pools"        # pre-generated degraded patch pools
RUNS_DIR = DATA_DIR / "runs"          # checkpoints and logs of training runs
