"""``pyfacs report RESULTS -o report.html``: one self-contained HTML page (images inlined) per results
file: per person the AU and expression time series and the AU map on their face, AU occurrence bars
for everyone, and sample frames of the video annotated from the table (when the video is at hand)."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError
from pyfacs.table import FaceTable

SAMPLE_FRAMES = 4


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode()


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _sample_frames(df: pd.DataFrame, source: str) -> list[str]:
    """Evenly spaced frames of ``source`` with the table's boxes, landmarks, ids and labels drawn."""
    from PIL import Image

    from pyfacs.io.media import is_video, iter_frames
    from pyfacs.viz.overlay import draw_face

    path = Path(source)
    if not path.is_file() or not is_video(path):
        return []
    faces = df[(df["source"] == source) & df["face_id"].notna()]
    if faces.empty:
        return []
    frames = faces["frame"].unique()
    wanted = set(frames[np.linspace(0, len(frames) - 1, min(SAMPLE_FRAMES, len(frames))).astype(int)].tolist())
    out = []
    for frame in iter_frames(path):
        if frame.index not in wanted:
            if frame.index > max(wanted):
                break
            continue
        img = frame.rgb.copy()
        for _, r in faces[faces["frame"] == frame.index].iterrows():
            lmk = np.stack([[r[f"lmk68_x_{i}"] for i in range(68)], [r[f"lmk68_y_{i}"] for i in range(68)]], 1)
            label = f"person {int(r['face_id'])}" + (f" {r['expr_label']}" if isinstance(r.get("expr_label"), str) else "")
            draw_face(img, [r[c] for c in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")], lmk, [label])
        buf = io.BytesIO()
        pil = Image.fromarray(img)
        pil.thumbnail((480, 480))
        pil.save(buf, format="PNG")
        out.append(_img(base64.b64encode(buf.getvalue()).decode(), f"frame {frame.index}"))
    return out


def write_report(table: FaceTable, output: str | Path) -> Path:
    from pyfacs.viz import plots

    df = table.data
    faces = df[df["face_id"].notna()]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>pyfacs report</title><style>"
             "body{font-family:sans-serif;margin:24px;max-width:1100px}img{max-width:100%;margin:4px}"
             "h2{border-bottom:1px solid #ccc}.frames img{width:48%}</style></head><body>",
             "<h1>pyfacs report</h1>"]
    models = [f"{k.replace('_', ' ')}: {v['name']}" for k, v in table.metadata.items()
              if isinstance(v, dict) and "name" in v]
    parts.append(f"<p>{len(df)} rows, {len(faces)} faces, {faces[['source', 'face_id']].drop_duplicates().shape[0]}"
                 f" people; {html.escape(', '.join(models) or 'models: not recorded')}</p>")
    if any(c.endswith("_c") and c.startswith("AU") for c in df.columns):
        parts.append("<h2>AU occurrence</h2>" + _img(_png(plots.plot_au_occurrence(df)), "AU occurrence"))
    for source, per_source in faces.groupby("source", sort=True):
        parts.append(f"<h2>{html.escape(Path(source).name)}</h2>")
        frames = _sample_frames(df, source)
        if frames:
            parts.append("<div class='frames'>" + "".join(frames) + "</div>")
        for fid in sorted(per_source["face_id"].unique()):
            fid = int(fid)
            parts.append(f"<h3>Person {fid} ({int((per_source['face_id'] == fid).sum())} frames)</h3>")
            parts.append(_img(_png(plots.plot_au_timeseries(df, fid, source=source)), f"AUs person {fid}"))
            if "expr_label" in df.columns:
                parts.append(_img(_png(plots.plot_expression_timeseries(df, fid, source=source)),
                                  f"expressions person {fid}"))
            parts.append(_img(_png(plots.plot_au_map(df, fid, source=source)), f"AU map person {fid}"))
    parts.append("</body></html>")
    output = Path(output)
    try:
        output.write_text("\n".join(parts))
    except OSError as exc:
        raise InputError(f"cannot write {output} ({exc.strerror or exc}); choose another --output") from None
    return output
