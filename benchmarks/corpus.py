"""Acceptance of the scale issue, corpus part: 20 copies of the shared sample videos analysed with
``--engine ray --workers 2`` and with ``--engine local``; the Parquet files must be equal. Then a
local run is killed half-way and started again: the files finished before the kill must not be
redone.

    python benchmarks/corpus.py
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from _common import arguments, shared

VIDEOS = [("media", "openface_samples", "default.wmv"), ("media", "openface_samples", "changeLighting.wmv"),
          ("media", "pyfeat", "single_face.mp4"), ("media", "openface_samples", "multi_face.avi")]
COPIES = 5
CLI = [sys.executable, "-m", "pyfacs.cli", "analyze-corpus"]


def run(src: Path, out: Path, *extra: str) -> float:
    t = time.perf_counter()
    subprocess.run(CLI + [str(src), "-o", str(out), "-q", *extra], check=True)
    return time.perf_counter() - t


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "corpus"
        for k in range(COPIES):
            (src / f"copy{k}").mkdir(parents=True)
            for parts in VIDEOS:
                shutil.copy(shared(*parts), src / f"copy{k}")
        n = len(list(src.rglob("*.*")))
        t_local = run(src, tmp / "local")
        t_ray = run(src, tmp / "ray", "--engine", "ray", "--workers", "2")
        local = {p.name: pd.read_parquet(p) for p in (tmp / "local").glob("*.parquet")}
        ray = {p.name: pd.read_parquet(p) for p in (tmp / "ray").glob("*.parquet")}
        equal = local.keys() == ray.keys() and all(local[k].equals(ray[k]) for k in local)
        print(f"{n} videos: local (1 worker) {t_local:.0f} s, ray (2 workers) {t_ray:.0f} s; "
              f"{len(local)} and {len(ray)} Parquet files; equal: {equal}")

        out = tmp / "killed"
        proc = subprocess.Popen(CLI + [str(src), "-o", str(out), "-q"])
        while len(list(out.glob("*.parquet"))) < n // 2:
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
        run(src, out)
        after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
        kept = all(after[k] == v for k, v in before.items())
        print(f"killed after {len(before)} of {n} files; resumed: {len(after)} files, the {len(before)} "
              f"finished before the kill untouched: {kept}; results equal to the uninterrupted run: "
              f"{all(pd.read_parquet(out / k).equals(local[k]) for k in local)}")
        sys.exit(0 if equal and kept and len(after) == n else 1)


if __name__ == "__main__":
    arguments(__doc__)
    main()
