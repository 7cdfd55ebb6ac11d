"""Video corpora with per-frame (or per-clip) labels, for the AU sequence model.

* Generic: a video and a CSV with a ``frame`` column (0-based) and one column per label; an
  OpenFace 2.2 output CSV works too (``fmt="openface"``: ``frame`` is 1-based there, and its
  ``AUxx_c``/``AUxx_r`` columns become the labels).
* Aff-Wild2 (ABAW AU track): ``<root>/AU_Set/<Split>/<video>.txt`` — a header line ``AU1,AU2,...``
  then one line of 0/1 per frame (-1: not annotated) — and the video ``<root>/videos/<video>.mp4``
  (or .avi).
* MEAD: ``<root>/<subject>/video/<view>/<emotion>/level_<n>/<clip>.mp4``; the label is the clip's
  emotion and intensity level.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError


@dataclass
class VideoLabels:
    video: Path
    frames: np.ndarray  # (n,) 0-based frame numbers that have labels
    labels: np.ndarray  # (n, k) float; NaN where not annotated
    names: list[str]


def load_video_labels(video: str | Path, csv: str | Path, *, columns: list[str] | None = None,
                      fmt: str = "generic") -> VideoLabels:
    video, csv = Path(video), Path(csv)
    for p in (video, csv):
        if not p.is_file():
            raise InputError(f"{p} does not exist")
    if fmt == "openface":
        from pyfacs.io.interop import read_openface_csv

        df = read_openface_csv(csv).data
        df = df[df["success"] == 1] if "success" in df else df  # frames where OpenFace saw a face
        if (dup := df["frame"].duplicated()).any():  # FaceLandmarkVidMulti: a row per face
            raise InputError(f"{csv} has rows for several faces in frame {int(df['frame'][dup].iloc[0]) + 1} "
                             "(OpenFace's count, from 1): "
                             "the labels must be one person's; keep one face_id's rows")
        columns = columns or [c for c in df.columns if c.startswith("AU") and c.endswith("_c")]
    elif fmt == "generic":
        from pyfacs.io.csvfile import numbers, read_csv

        df = read_csv(csv, "label CSV (a frame column, then one column per label)")
        if "frame" not in df:
            raise InputError(f"{csv} needs a 'frame' column (0-based frame numbers)")
        columns = columns or [c for c in df.columns if c != "frame"]
        if "frame" in columns:
            raise InputError("columns= names the labels; 'frame' is the frame number, not a label")
        if missing := [c for c in columns if c not in df]:
            raise InputError(f"{csv} has no column(s) {', '.join(missing)}")
        df = pd.concat([numbers(df, ["frame"], csv), numbers(df, columns, csv)], axis=1)
        frame = df["frame"].to_numpy()
        bad = ~np.isfinite(frame) | (frame < 0) | (frame != np.round(frame))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{csv}, data row {i + 1}: frame {frame[i]} is not a 0-based frame number")
        if (dup := pd.Series(frame).duplicated()).any():
            i = int(np.argmax(dup.to_numpy()))
            raise InputError(f"{csv}, data row {i + 1}: frame {int(frame[i])} is labelled twice")
    else:
        raise InputError(f"unknown label format {fmt!r}; use generic or openface")
    if missing := [c for c in columns if c not in df]:  # (openface: columns= asked for)
        raise InputError(f"{csv} has no column(s) {', '.join(missing)}")
    return VideoLabels(video, df["frame"].to_numpy(np.int64), df[columns].to_numpy(np.float64), list(columns))


def load_affwild2_au(root: str | Path, name: str, split: str = "Train_Set") -> VideoLabels:
    root = Path(root)
    txt = root / "AU_Set" / split / f"{name}.txt"
    if not txt.is_file():
        raise InputError(f"{txt} does not exist (Aff-Wild2 layout: AU_Set/<Split>/<video>.txt)")
    # a video with two annotated people has <video>_left.txt and <video>_right.txt beside one <video>.mp4
    stems = [name] + ([name.rsplit("_", 1)[0]] if name.endswith(("_left", "_right")) else [])
    videos = [p for stem in stems for p in (root / "videos" / f"{stem}.mp4", root / "videos" / f"{stem}.avi")
              if p.is_file()]
    if not videos:
        raise InputError(f"no video for {name} under {root / 'videos'}")
    from pyfacs.io.csvfile import read_text

    fix = "Aff-Wild2's AU files hold a header AU1,AU2,... then one line of 0/1 (-1: not annotated) per frame"
    text = read_text(txt, "Aff-Wild2 AU file").rstrip()
    lines = [(no, line.strip()) for no, line in enumerate(text.splitlines(), 1)]
    if not text:
        raise InputError(f"{txt} is empty; {fix}")
    if blank := next((no for no, line in lines if not line), None):  # (frames are numbered by line)
        raise InputError(f"{txt}, line {blank}: a blank line among the frames' lines would misnumber "
                         f"every frame after it; {fix}")
    header = [a.strip() for a in lines[0][1].split(",")]
    if not all(re.fullmatch(r"AU\d+", a) for a in header):
        raise InputError(f"{txt}, line {lines[0][0]}: the header {lines[0][1][:40]!r} is not AU1,AU2,...; {fix}")
    names = [f"AU{int(a[2:]):02d}" for a in header]
    values = np.zeros((len(lines) - 1, len(names)))
    for row, (no, line) in enumerate(lines[1:]):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(names) or any(c not in ("0", "1", "-1") for c in cells):
            raise InputError(f"{txt}, line {no}: {line[:40]!r} is not {len(names)} values of 0, 1 or -1; {fix}")
        values[row] = [float(c) for c in cells]
    values[values < 0] = np.nan  # -1: frame not annotated (e.g. no face)
    return VideoLabels(videos[0], np.arange(len(values)), values, names)


def list_mead_clips(root: str | Path, view: str = "front") -> pd.DataFrame:
    """One row per clip: subject, emotion, level, path."""
    root = Path(root)
    rows = [{"subject": p.parts[-6], "emotion": p.parts[-3], "level": int(p.parts[-2].split("_")[1]), "path": p}
            for p in sorted(root.glob(f"*/video/{view}/*/level_*/*.mp4"))]
    if not rows:
        raise InputError(f"no MEAD clips under {root} (layout: <subject>/video/{view}/<emotion>/level_<n>/<clip>.mp4)")
    return pd.DataFrame(rows)
