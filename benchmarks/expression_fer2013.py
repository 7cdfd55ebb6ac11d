"""Acceptance of the expression issue: the shipped expression head run as
``pyfacs analyze --faces-cropped`` on FER2013 PublicTest (../shared/data/fer2013/val), accuracy
against the labels; and each shipped model's size, memory and CPU speed.

    python benchmarks/expression_fer2013.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import arguments, shared


def accuracy(name: str) -> None:
    """``name`` run as ``pyfacs analyze --faces-cropped`` on PublicTest, scored against the labels."""
    root = shared("data", "fer2013")
    labels = pd.read_csv(root / "labels.csv")
    val = labels[labels["usage"] == "PublicTest"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fer_val.parquet"
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "pyfacs.cli", "analyze", str(root / "val" / "**" / "*.jpg"), "-o", str(out),
                              "--faces-cropped", "--au-model", "none", "--expression-model", name, "-q"],
                             capture_output=True, text=True)
        secs = time.perf_counter() - t
        if res.returncode:
            sys.exit(res.stderr)
        df = pd.read_parquet(out)
    df["path"] = df["source"].map(lambda s: str(Path(s).relative_to(root)))
    merged = df.merge(val[["path", "emotion"]], on="path", how="inner")
    acc = float((merged["expr_label"] == merged["emotion"]).mean())
    print(f"{name} on FER2013 PublicTest via `pyfacs analyze --faces-cropped`: {len(merged)} of {len(val)} images, "
          f"accuracy {acc:.4f} ({secs:.0f} s, {len(df) / secs:.0f} images/s end to end)")
    per = (merged["expr_label"] == merged["emotion"]).groupby(merged["emotion"]).mean()
    print("  per-class recall: " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()))


def main() -> None:
    from pyfacs.expression.heads import DEFAULT_EXPRESSION_HEAD, EXPRESSION_HEADS

    print(f"the default expression head is {DEFAULT_EXPRESSION_HEAD}")
    for name in EXPRESSION_HEADS:
        accuracy(name)
    for name in EXPRESSION_HEADS:
        # a fresh process per model, so that its peak memory is the model's alone
        res = subprocess.run([sys.executable, __file__, "--speed", name], capture_output=True, text=True)
        print(res.stdout.strip() or res.stderr.strip())


def speed(name: str) -> None:
    """One model's parameters, file size, memory and speed on one CPU thread (batches of 1 and 8)."""
    import onnx
    import onnxruntime as ort

    from pyfacs.models import get_model
    from pyfacs.models.hub import resolve_one

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    path = resolve_one(get_model(name))
    before = rss_mb()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    rates = []
    for batch in (1, 8):
        x = np.zeros((batch, 1, 48, 48), np.float32)
        for _ in range(5):
            sess.run(None, {"input": x})
        t = time.perf_counter()
        for _ in range(400 // batch):
            sess.run(None, {"input": x})
        rates.append(400 / (time.perf_counter() - t))
    memory = rss_mb() - before  # the session and its working buffers, resident after the runs
    params = sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer)
    print(f"{name}: {params / 1e6:.2f} M values stored (BatchNorm folded into the convolutions), "
          f"{path.stat().st_size / 2**20:.1f} MiB, "
          f"+{memory:.0f} MB memory, {rates[0]:.0f} faces/s one at a time, {rates[1]:.0f} in batches of 8 "
          f"(one CPU thread)")

if __name__ == "__main__":
    args = arguments(__doc__, (("--speed",), {"metavar": "NAME", "help": "only the speed and size of this model"}))
    if args.speed:
        speed(args.speed)
    else:
        main()
