"""Acceptance 1 of the main-job issue: share of frames with a face on the sample videos.

Also compares the detector choices (BlazeFace short-range alone on every frame, full-range alone,
and the pipeline: short-range + mesh following) by rate and time per frame; the docs record why the
pipeline uses what it uses.

    python benchmarks/detection_rate.py
"""
from __future__ import annotations

import time

from _common import arguments, shared

from pyfacs.face.detect import FaceDetector
from pyfacs.io.media import iter_frames
from pyfacs.pipeline import Analyzer

VIDEOS = [
    ("openface_samples", "default.wmv"), ("openface_samples", "2015-10-15-15-14.avi"),
    ("openface_samples", "changeLighting.wmv"), ("pyfeat", "single_face.mp4"), ("pyfeat", "no_face.mp4"),
]


def main() -> None:
    detectors = {name: FaceDetector(name) for name in ("blazeface.short-range", "blazeface.full-range")}
    print(f"{'video':24s} {'frames':>6s} {'pipeline':>9s} {'short-range':>12s} {'full-range':>11s}   ms/frame (pipeline, short, full)")
    for folder, name in VIDEOS:
        frames = list(iter_frames(shared("media", folder, name)))
        analyzer = Analyzer()
        t = time.perf_counter()
        with_face = sum(bool(analyzer.faces(f.rgb)) for f in frames)
        t_pipe = (time.perf_counter() - t) / len(frames) * 1e3
        rates, times = [], []
        for det in detectors.values():
            t = time.perf_counter()
            rates.append(sum(bool(det(f.rgb)) for f in frames) / len(frames))
            times.append((time.perf_counter() - t) / len(frames) * 1e3)
        print(f"{name:24s} {len(frames):6d} {with_face / len(frames):9.1%} {rates[0]:12.1%} {rates[1]:11.1%}"
              f"   {t_pipe:.1f}, {times[0]:.1f}, {times[1]:.1f}")


if __name__ == "__main__":
    arguments(__doc__)
    main()
