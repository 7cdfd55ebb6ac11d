"""Temporal smoothing of per-face signals (AU intensities, probabilities), one person at a time.

Two filters, each with a stated lag (how late a step change shows up, in frames):

* ``centered`` (default, offline): the mean over ``window`` frames centred on each frame (odd
  window; at the ends of a run, over the frames there are). Lag 0: it looks ``(window - 1) / 2``
  frames ahead, so it needs the whole video (or that many frames of delay). OpenFace's 3-frame AU
  smoothing differs from ``window=3`` at the ends of a run, which it leaves as they were.
* ``causal`` (live use): an exponential moving average, y_t = a x_t + (1 - a) y_{t-1}, with
  a = 2 / (window + 1) (the EMA of the same "span" as the window). It sees only the past; its
  lag is the mean delay of its weights, (1 - a) / a = (window - 1) / 2 frames.

Frames are consecutive analysed frames of one ``face_id``; a gap (a frame where the face was not
seen) restarts the filter, so that values do not leak across an occlusion.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

Method = Literal["centered", "causal"]


def lag_frames(window: int, method: Method = "centered") -> float:
    """The filter's lag in frames (see the module's notes)."""
    return 0.0 if method == "centered" else (window - 1) / 2


def _check(window: int, method: Method) -> None:
    if window < 1:
        raise ValueError(f"window must be at least 1 frame, not {window}")
    if method not in ("centered", "causal"):
        raise ValueError(f"method must be 'centered' or 'causal', not {method!r}")
    if method == "centered" and window % 2 == 0:
        raise ValueError(f"a centred window needs an odd number of frames, not {window}")


def _filtered(frame, window: int, method: Method) -> pd.DataFrame:
    """``frame`` (a DataFrame, or a DataFrameGroupBy: each group a run) through the filter."""
    if method == "centered":
        return frame.rolling(window, center=True, min_periods=1).mean()
    return frame.ewm(span=window, adjust=False, ignore_na=True).mean()


def smooth_signal(x: np.ndarray, window: int, method: Method = "centered") -> np.ndarray:
    """Smooth one run of consecutive frames (n,) or (n, k); NaNs stay NaN and are skipped."""
    _check(window, method)
    x = np.asarray(x, np.float64)
    if window == 1 or len(x) == 0:
        return x.copy()
    df = pd.DataFrame(x.reshape(len(x), -1))
    out = _filtered(df, window, method).to_numpy(copy=True)
    out[np.isnan(df.to_numpy())] = np.nan  # a missing value is not filled in from its neighbours
    return out.reshape(x.shape)


def smooth_columns(df: pd.DataFrame, columns: list[str], *, window: int = 5, method: Method = "centered"
                   ) -> pd.DataFrame:
    """A copy of ``df`` with ``columns`` smoothed per ``source`` and ``face_id`` along ``frame``.
    A person's rows further apart than the source's analysed-frame step (1, or N with ``--every N``)
    start a new run."""
    out = df.reset_index(drop=True)  # rows are addressed by position below (a repeated index would clash)
    if not columns or df.empty:
        return out.set_axis(df.index)
    steps = out.drop_duplicates(["source", "frame"]).sort_values(["source", "frame"]).groupby("source")["frame"] \
        .agg(lambda f: int(f.diff().dropna().min()) if len(f) > 1 else 1)
    faces = out[out["face_id"].notna()].sort_values(["source", "face_id", "frame"])
    gap = faces.groupby(["source", "face_id"])["frame"].diff()
    run = (gap != faces["source"].map(steps)).cumsum()
    # (analyze writes float32: smoothing keeps it; whole-number columns become floats, not truncated means)
    if ints := [c for c in columns if not pd.api.types.is_float_dtype(out[c])]:
        out[ints] = out[ints].astype(np.float64)
    dtypes = out[columns].dtypes.to_dict()
    _check(window, method)
    if window == 1:
        return out.set_axis(df.index)
    # every run at once (a run at a time cost ~15 ms each: minutes for a long video where a face is
    # often lost); the rows keep their run order, which groupby's filters follow
    values = out.loc[faces.index, columns].astype(np.float64)
    smoothed = _filtered(values.groupby(run.to_numpy()), window, method).droplevel(0).loc[faces.index]
    smoothed = smoothed.mask(values.isna())  # a missing value is not filled in from its neighbours
    out.loc[faces.index, columns] = smoothed.astype(dtypes)
    return out.set_axis(df.index)
