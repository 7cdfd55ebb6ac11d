"""Acceptance of the expression issue: the shipped expression head run as
``pyfacs analyze --faces-cropped`` on FER2013 PublicTest (../shared/data/fer2013/val), accuracy
against the labels; and the model's size and CPU speed.

    python benchmarks/expression_fer2013.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import shared


def main() -> None:
    root = shared("data", "fer2013")
    labels = pd.read_csv(root / "labels.csv")
    val = labels[labels["usage"] == "PublicTest"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fer_val.parquet"
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "pyfacs.cli", "analyze", str(root / "val" / "**" / "*.jpg"), "-o", str(out),
                              "--faces-cropped", "--au-model", "none", "-q"], capture_output=True, text=True)
        secs = time.perf_counter() - t
        if res.returncode:
            sys.exit(res.stderr)
        df = pd.read_parquet(out)
    df["path"] = df["source"].map(lambda s: str(Path(s).relative_to(root)))
    merged = df.merge(val[["path", "emotion"]], on="path", how="inner")
    acc = float((merged["expr_label"] == merged["emotion"]).mean())
    print(f"FER2013 PublicTest via `pyfacs analyze --faces-cropped`: {len(merged)} of {len(val)} images, "
          f"accuracy {acc:.4f} ({secs:.0f} s, {len(df) / secs:.0f} images/s end to end)")
    per = (merged["expr_label"] == merged["emotion"]).groupby(merged["emotion"]).mean()
    print("per-class recall: " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()))

    import onnx
    import onnxruntime as ort

    from pyfacs.models import get_model
    from pyfacs.models.hub import resolve_one

    path = resolve_one(get_model("esr9.fer2013"))
    params = sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    x = np.zeros((1, 1, 48, 48), np.float32)
    for _ in range(10):
        sess.run(None, {"input": x})
    t = time.perf_counter()
    for _ in range(200):
        sess.run(None, {"input": x})
    print(f"esr9.fer2013: {params / 1e6:.2f} M parameters, {path.stat().st_size / 2**20:.1f} MiB, "
          f"{200 / (time.perf_counter() - t):.0f} faces/s on one CPU thread")


if __name__ == "__main__":
    main()
