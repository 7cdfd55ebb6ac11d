"""Readers for other tools' output files, mapped onto pyfacs's column vocabulary."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError
from pyfacs.table import FaceTable


def read_openface_csv(path: str | Path) -> FaceTable:
    """An OpenFace 2.x ``FeatureExtraction``/``FaceLandmarkImg`` CSV as a FaceTable.

    Renamed: ``frame`` (OpenFace counts from 1; pyfacs from 0), ``timestamp``→``timestamp_s``,
    ``confidence``→``face_score``, ``x_i``/``y_i``→``lmk68_x_i``/``lmk68_y_i``, ``pose_Rx/Ry/Rz``
    (radians)→``pose_pitch_deg/yaw_deg/roll_deg``. ``AUxx_r``/``AUxx_c`` keep their names; every other
    column (gaze, 3D landmarks, PDM parameters ``p_*``, ``success``) is kept under its own name.
    Frames where OpenFace failed (``success`` 0) keep their row, with empty landmarks.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, skipinitialspace=True)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable CSV ({exc})") from None
    df.columns = [c.strip() for c in df.columns]
    needed = {"frame", "timestamp", "x_0", "y_67"}
    if not needed <= set(df.columns):
        raise InputError(f"{path} is not an OpenFace 2 CSV: it lacks {sorted(needed - set(df.columns))}; "
                         f"run FeatureExtraction with -2Dfp (or default outputs)")
    out = pd.DataFrame({
        "source": pd.array([str(path)] * len(df), dtype="string"),
        "frame": df["frame"].astype("int64") - 1,
        "timestamp_s": df["timestamp"].astype("float64"),
        "face_id": pd.array(df.get("face_id", pd.Series(0, index=df.index)).astype("int64"), dtype="Int64"),
        "face_score": df.get("confidence", pd.Series(np.nan, index=df.index)).astype("float32"),
    })
    xs = df[[f"x_{i}" for i in range(68)]].to_numpy(np.float32)
    ys = df[[f"y_{i}" for i in range(68)]].to_numpy(np.float32)
    out["bbox_x1"], out["bbox_y1"] = xs.min(1), ys.min(1)
    out["bbox_x2"], out["bbox_y2"] = xs.max(1), ys.max(1)
    lmk = pd.DataFrame(np.concatenate([xs, ys], 1),
                       columns=[f"lmk68_x_{i}" for i in range(68)] + [f"lmk68_y_{i}" for i in range(68)])
    parts = [out, lmk]
    if {"pose_Rx", "pose_Ry", "pose_Rz"} <= set(df.columns):
        parts.append(pd.DataFrame({
            "pose_pitch_deg": np.degrees(df["pose_Rx"].to_numpy(np.float64)),
            "pose_yaw_deg": np.degrees(df["pose_Ry"].to_numpy(np.float64)),
            "pose_roll_deg": np.degrees(df["pose_Rz"].to_numpy(np.float64)),
        }))
    used = {"frame", "timestamp", "face_id", "confidence", "pose_Rx", "pose_Ry", "pose_Rz",
            *[f"x_{i}" for i in range(68)], *[f"y_{i}" for i in range(68)]}
    parts.append(df[[c for c in df.columns if c not in used]].reset_index(drop=True))
    table = pd.concat([p.reset_index(drop=True) for p in parts], axis=1)
    if "success" in table.columns:
        failed = table["success"] == 0
        table.loc[failed, [c for c in table.columns if c.startswith(("lmk68_", "bbox_"))]] = np.nan
    return FaceTable(table, {"source_tool": "OpenFace 2", "path": str(path)})
