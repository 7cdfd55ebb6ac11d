"""Acceptance of the video-over-time issue, tracking part: on multi_face.avi and crowd_video.mp4,
the number of identities pyfacs reports against the number of people counted by eye, and the ID
switches per 100 frames against the identity truth in benchmarks/data/ (how it was made:
benchmarks/make_identity_truth.py).

People by eye: the truth's people seen in at least MIN_FRAMES frames (faces glimpsed for fewer
frames are not counted); identities: every ``face_id`` pyfacs reports, however briefly.
ID switches (as in MOT's IDSW): along each true person's frames, each change of the ``face_id``
matched to them (a face matches the truth's face whose centre is within half a face size).

    python benchmarks/tracking.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from _common import arguments, shared

DATA = Path(__file__).parent / "data"
MIN_FRAMES = 15
VIDEOS = {"multi_face.avi": ("media", "openface_samples", "multi_face.avi"),
          "crowd_video.mp4": ("media", "facenet_pytorch", "crowd_video.mp4")}


def match(pred: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """truth rows with the matched predicted face_id (NaN: none); one truth face per person and frame."""
    truth = truth.sort_values("size", ascending=False).drop_duplicates(["frame", "person"])
    out = []
    for frame, t in truth.groupby("frame"):
        p = pred[pred["frame"] == frame]
        ids = np.full(len(t), np.nan)
        if len(p):
            d = np.hypot(t["cx"].to_numpy()[:, None] - p["cx"].to_numpy()[None],
                         t["cy"].to_numpy()[:, None] - p["cy"].to_numpy()[None])
            d[d >= 0.5 * t["size"].to_numpy()[:, None]] = np.inf
            while np.isfinite(d).any():  # one to one, nearest pairs first
                i, j = np.unravel_index(d.argmin(), d.shape)
                ids[i] = p["face_id"].to_numpy()[j]
                d[i, :], d[:, j] = np.inf, np.inf
        out.append(t.assign(face_id=ids))
    return pd.concat(out)


def score(pred: pd.DataFrame, truth: pd.DataFrame, n_frames: int) -> dict:
    people = truth[truth["person"] >= 0]
    counts = people["person"].value_counts()
    by_eye = int((counts >= MIN_FRAMES).sum())
    m = match(pred, people[people["person"].isin(counts[counts >= MIN_FRAMES].index)])
    switches = 0
    for _, g in m.dropna(subset=["face_id"]).sort_values("frame").groupby("person"):
        ids = g["face_id"].to_numpy()
        switches += int((ids[1:] != ids[:-1]).sum())
    seen = pred["face_id"].value_counts()
    return {"people_by_eye": by_eye, "identities": len(seen), "long_ids": int((seen >= MIN_FRAMES).sum()),
            "id_switches": switches, "switches_per_100_frames": 100 * switches / n_frames,
            "truth_faces_matched": float(m["face_id"].notna().mean())}


def main() -> None:
    ok = True
    for name, parts in VIDEOS.items():
        video = shared(*parts)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "t.parquet"
            subprocess.run([sys.executable, "-m", "pyfacs.cli", "analyze", str(video), "-o", str(out), "-q",
                            "--au-model", "none", "--expression-model", "none"], check=True)
            df = pd.read_parquet(out, columns=["frame", "face_id", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"])
        n_frames = int(df["frame"].max()) + 1
        pred = df.dropna(subset=["face_id"]).assign(cx=lambda d: (d.bbox_x1 + d.bbox_x2) / 2,
                                                    cy=lambda d: (d.bbox_y1 + d.bbox_y2) / 2)
        s = score(pred, pd.read_csv(DATA / f"{Path(name).stem}_identities.csv"), n_frames)
        passed = s["identities"] == s["people_by_eye"] and s["switches_per_100_frames"] <= 1
        ok &= passed
        print(f"{name}: {n_frames} frames; people by eye {s['people_by_eye']}, identities {s['identities']} "
              f"({s['long_ids']} seen in {MIN_FRAMES}+ frames); ID switches {s['id_switches']} = {s['switches_per_100_frames']:.2f} "
              f"per 100 frames; truth faces matched {s['truth_faces_matched']:.1%} -> {'PASS' if passed else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    arguments(__doc__)
    main()
