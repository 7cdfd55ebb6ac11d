"""Plots of a FaceTable (matplotlib, which pyfacs's MediaPipe dependency brings): AU and expression
time series per person, AU occurrence bars, and an AU intensity map drawn on the person's face.
Each function returns a matplotlib Figure; ``FaceTable.plot_*`` call them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.schema import is_au_column, is_expression_score


def _figure(figsize: tuple[float, float]):
    """A Figure and its axes, made without pyplot: the caller's matplotlib backend is left as it is,
    and nothing accumulates in pyplot's list of open figures."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()


def _au_value_columns(df: pd.DataFrame) -> list[str]:
    """Intensities (``_r``) when there are, else presence probabilities (``_p``)."""
    r = [c for c in df.columns if is_au_column(c) and c.endswith("_r")]
    return r or [c for c in df.columns if is_au_column(c) and c.endswith("_p")]


def _person(df: pd.DataFrame, face_id: int, source: str | None) -> pd.DataFrame:
    rows = df[df["face_id"] == face_id]
    if source is not None:
        rows = rows[rows["source"] == source]
    return rows.sort_values("frame")


def presence_columns(df: pd.DataFrame) -> list[str]:
    """AU presence: ``_c`` columns, else the presence probabilities (``_p``; py-feat, iMotions)."""
    hard = [c for c in df.columns if is_au_column(c) and c.endswith("_c")]
    return hard or [c for c in df.columns if is_au_column(c) and c.endswith("_p")]


def _broken_at_gaps(rows: pd.DataFrame) -> pd.DataFrame:
    """A blank row where the person is missing for a while (frames without their face), so that a line
    plot breaks there rather than draws a straight line across."""
    frames = rows["frame"].to_numpy(float)
    if len(frames) < 3:
        return rows
    steps = np.diff(frames)
    if not (steps > 0).any():
        return rows
    gaps = np.flatnonzero(steps > 1.5 * np.median(steps[steps > 0]))  # (the sampling step: --every 5 is no gap)
    if not gaps.size:
        return rows
    # one blank row after each gap's last frame, all in one concat (a concat per gap took seconds
    # for a face lost thousands of times)
    blanks = pd.DataFrame(np.nan, index=gaps + 0.5, columns=rows.columns)
    return pd.concat([rows.set_axis(np.arange(len(rows))), blanks]).sort_index(kind="stable") \
        .reset_index(drop=True)


def _time_axis(rows: pd.DataFrame) -> tuple[pd.Series, str]:
    """Seconds, or frame numbers where the table has no times (py-feat's, for one)."""
    if rows["timestamp_s"].notna().any():
        return rows["timestamp_s"], "time (s)"
    return rows["frame"], "frame"


def plot_au_timeseries(df: pd.DataFrame, face_id: int, *, source: str | None = None, top: int = 8):
    """The person's ``top`` most active AUs over time."""
    rows = _person(df, face_id, source)
    cols = _au_value_columns(rows)
    chosen = rows[cols].mean().sort_values(ascending=False).index[:top] if cols and len(rows) else []
    rows = _broken_at_gaps(rows)
    fig, ax = _figure((9, 3))
    x, x_label = _time_axis(rows)
    if len(chosen):
        for c in chosen:  # (one frame, a still image: points, which a line of one point does not show)
            ax.plot(x, rows[c], lw=1.2, label=c.split("_")[0], marker="o" if len(rows) == 1 else None)
        ax.legend(ncol=min(len(chosen), 8), fontsize=7, loc="upper right")
        ax.set_ylabel("intensity (0-5)" if cols[0].endswith("_r") else "presence probability")
    ax.set_xlabel(x_label)
    ax.set_title(f"AUs over time, person {face_id}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_expression_timeseries(df: pd.DataFrame, face_id: int, *, source: str | None = None):
    rows = _person(df, face_id, source)
    cols = [c for c in rows.columns if is_expression_score(c)]
    fig, ax = _figure((9, 2.6))
    x, x_label = _time_axis(rows)
    if cols and len(rows):
        sums = np.nansum(rows[cols].to_numpy(float), axis=1)
        stacked = len(rows) > 1 and np.nanmax(np.abs(sums - 1)) < 0.05  # one distribution per frame
        rows = _broken_at_gaps(rows)
        x, _ = _time_axis(rows)
        values = rows[cols].to_numpy(float)
        if stacked:
            ax.stackplot(x, values.T, labels=[c[5:] for c in cols], alpha=0.85)
            ax.set_ylim(0, 1)
        else:  # scored one by one (iMotions, Affectiva: they need not sum to 1), or a single frame
            for c, v in zip(cols, values.T):
                ax.plot(x, v, lw=1.2, label=c[5:], marker="o" if len(rows) == 1 else None)
            ax.set_ylim(0, max(1.0, float(np.nanmax(values)) if np.isfinite(values).any() else 1.0))
        ax.legend(ncol=len(cols), fontsize=7, loc="upper right")
    ax.set_xlabel(x_label)
    ax.set_ylabel("probability")
    ax.set_title(f"Expressions over time, person {face_id}", fontsize=10)
    fig.tight_layout()
    return fig


MAX_STILL_GROUPS = 8  # more still images than this share one bar group
MAX_PERSON_GROUPS = 8  # more people than this: the 7 seen longest, and one group for the others


def still_sources(df: pd.DataFrame) -> set[str]:
    """The sources with one frame: still images (told by the data, not by a file name: another
    tool's CSV of a video, or a folder read as a sequence, is no image)."""
    frames = df.groupby("source")["frame"].nunique()
    return set(frames.index[frames == 1])


def plot_au_occurrence(df: pd.DataFrame):
    """Share of frames with each AU present (``_c``, else ``_p`` ≥ 0.5), one bar group per person — people in still
    images share one group when there are more than a few images (a folder of 3,000 is one group)."""
    faces = df[df["face_id"].notna()]
    cols = presence_columns(faces)
    if cols and cols[0].endswith("_p"):  # presence probabilities only (py-feat, iMotions): present where p >= 0.5
        probs = cols
        present = pd.DataFrame({f"{c[:-2]}_c": (faces[c] >= 0.5).astype(float).where(faces[c].notna())
                                for c in probs}, index=faces.index)
        faces = pd.concat([faces[["source", "face_id", "frame"]], present], axis=1)  # (one block: not column by column)
        cols = [f"{c[:-2]}_c" for c in probs]
    fig, ax = _figure((9, 3))
    if cols and len(faces):
        several = faces["source"].nunique() > 1
        stills = still_sources(faces)
        pooled = len(stills) > MAX_STILL_GROUPS
        # a person is a face_id within a source; pooled stills are one group (source "", face -1)
        in_pool = faces["source"].isin(stills).to_numpy() & pooled
        source = np.where(in_pool, "", faces["source"].astype(str).to_numpy())
        face = np.where(in_pool, -1, faces["face_id"].astype("float64").to_numpy())
        # a crowd: the people seen longest get a group each, the others share one (source "", face -2)
        sizes = pd.Series(1, index=faces.index).groupby([source, face]).sum()
        people = sizes.drop(("", -1), errors="ignore")
        if len(people) > MAX_PERSON_GROUPS:
            kept = people.sort_values(ascending=False, kind="stable").index[:MAX_PERSON_GROUPS - 1]
            others = ~pd.MultiIndex.from_arrays([source, face]).isin(kept) & (face != -1)
            source, face = np.where(others, "", source), np.where(others, -2, face)
            n_others = len(people) - len(kept)
        rates = faces[cols].groupby([source, face]).mean()  # (sorted: by source, then face)

        def label(src: str, fid: float) -> str:
            if src == "" and fid == -2:
                return f"{n_others} other people"
            if src == "":
                return f"{len(stills)} still images ({int(in_pool.sum())} faces)"
            return f"{Path(src).name}: person {int(fid)}" if several else f"person {int(fid)}"

        width = 0.8 / max(len(rates), 1)
        x = np.arange(len(cols))
        for k, ((src, fid), row) in enumerate(rates.iterrows()):
            ax.bar(x + k * width, row.to_numpy(float), width, label=label(src, fid))
        ax.set_xticks(x + 0.4 - width / 2, [c.split("_")[0] for c in cols], rotation=90, fontsize=7)
        ax.legend(fontsize=7)
    ax.set_ylabel("occurrence rate")
    ax.set_title("AU occurrence per person", fontsize=10)
    fig.tight_layout()
    return fig


def plot_au_map(df: pd.DataFrame, face_id: int, *, source: str | None = None, title: str | None = None):
    """Mean AU values drawn where each AU acts, on the person's mean landmark shape (as seen in the
    image: the subject's left is on the right). A lateral column (``AU12L``/``AU12R``) is drawn on
    that side only; a bilateral AU at both of its places."""
    from pyfacs.au.heatmaps import AU_LOCATIONS, au_points

    rows = _person(df, face_id, source)
    fig, ax = _figure((4, 4.4))
    lmk_cols = [f"lmk68_x_{i}" for i in range(68)] + [f"lmk68_y_{i}" for i in range(68)]
    # frames without a face (or a row cut short) have no shape
    xy = rows[lmk_cols].to_numpy(float) if set(lmk_cols) <= set(rows.columns) else np.zeros((0, 136))
    xy = xy[np.isfinite(xy).all(1)]
    if len(xy):
        shape = np.stack([xy[:, :68], xy[:, 68:]], -1)
        shape = shape - shape.mean(1, keepdims=True)
        shape = np.nanmean(shape / np.linalg.norm(shape[:, 36] - shape[:, 45], axis=1)[:, None, None], 0)
        for a, b in ((0, 17), (17, 22), (22, 27), (27, 31), (31, 36), (36, 42), (42, 48), (48, 60), (60, 68)):
            closed = a >= 36
            idx = list(range(a, b)) + ([a] if closed else [])
            ax.plot(shape[idx, 0], shape[idx, 1], color="0.6", lw=1)
        values = rows[_au_value_columns(rows)].mean() if _au_value_columns(rows) else pd.Series(dtype=float)
        scale = 5.0 if any(c.endswith("_r") for c in values.index) else 1.0  # (no AU columns: an empty index)
        for col, v in values.items():
            name = col.split("_")[0]
            side = name[-1] if name[-1] in "LR" else None
            au = int(name[2:4])
            if au not in AU_LOCATIONS or not np.isfinite(v):
                continue
            v = float(np.clip(v, 0.0, scale))  # (a baseline-subtracted mean may be negative: no marker size)
            pts = au_points(shape, au)
            if side is not None and len(pts) > 1:  # the subject's left is the image's right
                pts = pts[pts[:, 0] > 0] if side == "L" else pts[pts[:, 0] <= 0]
            ax.scatter(pts[:, 0], pts[:, 1], s=60 + 900 * v / scale, c=[[1.0, 0.2, 0.1, min(1.0, 0.15 + v / scale)]])
            ax.annotate(name, pts[0], xytext=(0, 7), textcoords="offset points", fontsize=6, ha="center")
    ax.invert_yaxis()
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"Mean AU activity, person {face_id}", fontsize=10)
    fig.tight_layout()
    return fig
