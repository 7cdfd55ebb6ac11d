"""The embedded AU model ``audetnet.ckplus``: size, CPU speed, and (as an outside check, not a
ground truth) agreement of its presence calls with OpenFace 2.2's on the 842-frame reference clip.

    python benchmarks/au_models.py
"""
from __future__ import annotations

import json
import time

import numpy as np

from _common import arguments, shared


def main() -> None:
    import onnx
    import onnxruntime as ort

    from pyfacs.models import get_model
    from pyfacs.models.hub import resolve_one

    path = resolve_one(get_model("audetnet.ckplus"))
    params = sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 1, 48, 48), dtype=np.float32) - 0.5
    for _ in range(20):
        sess.run(None, {"input": x})
    t = time.perf_counter()
    n = 300
    for _ in range(n):
        sess.run(None, {"input": x})
    single = n / (time.perf_counter() - t)
    xb = np.repeat(x, 64, 0)
    t = time.perf_counter()
    for _ in range(10):
        sess.run(None, {"input": xb})
    batched = 640 / (time.perf_counter() - t)
    print(f"audetnet.ckplus: {params / 1e6:.2f} M parameters, {path.stat().st_size / 2**20:.1f} MiB ONNX; "
          f"one CPU thread: {single:.0f} faces/s one at a time, {batched:.0f} faces/s in batches of 64")

    import pyfacs
    from pyfacs.io.interop import read_openface_csv

    ours = pyfacs.analyze(shared("media", "openface_samples", "2015-10-15-15-14.avi"), au_model="audetnet.ckplus").data
    ref = read_openface_csv(shared("reference", "openface-2.2.0", "dynamic", "2015-10-15-15-14.csv")).data
    rows = {}
    for au in ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU12", "AU17", "AU25"):
        a, b = ours[f"{au}_c"].to_numpy(), ref[f"{au}_c"].to_numpy()
        rows[au] = {"agreement": float((a == b).mean()), "ours_rate": float(a.mean()), "openface_rate": float(b.mean())}
    print("presence vs OpenFace 2.2 on 2015-10-15-15-14.avi (another model, not ground truth):")
    print(json.dumps(rows, indent=1))
    print(f"mean agreement {np.mean([r['agreement'] for r in rows.values()]):.3f}")


if __name__ == "__main__":
    arguments(__doc__)
    main()
