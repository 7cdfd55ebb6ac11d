"""``pyfacs report RESULTS -o report.html``: one self-contained HTML page (images inlined) per results
file: per person in a video the AU and expression time series and the AU map on their face, AU
occurrence bars for everyone, and sample frames of the video annotated from the table (when the video
is at hand); still images get a table of their faces (the first ones, when there are many) and one
AU map of them all."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.errors import InputError
from pyfacs.schema import is_expression_score
from pyfacs.table import FaceTable

SAMPLE_FRAMES = 4
MAX_STILL_ROWS = 50  # faces listed from still images; the page stays small for a folder of thousands
PEOPLE_DRAWN = 12  # people of one video drawn in full (the ones seen longest); the others are listed


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode()


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _sample_frames(df: pd.DataFrame, source: str) -> list[str]:
    """Evenly spaced frames of ``source`` with the table's faces drawn as ``--annotate`` draws them."""
    from PIL import Image

    from pyfacs.io.media import is_video, iter_frames
    from pyfacs.viz.overlay import draw_face, faces_by_frame

    path = Path(source)
    if not path.exists() or not is_video(path):  # (a video file, or a folder read as a sequence)
        return []
    faces = df[(df["source"] == source) & df["face_id"].notna()]
    if faces.empty:
        return []
    frames = faces["frame"].unique()
    wanted = set(frames[np.linspace(0, len(frames) - 1, min(SAMPLE_FRAMES, len(frames))).astype(int)].tolist())
    drawn = faces_by_frame(faces[faces["frame"].isin(wanted)])
    out = []
    for frame in iter_frames(path):
        if frame.index not in wanted:
            if frame.index > max(wanted):
                break
            continue
        img = frame.rgb.copy()
        for box, lmk, lines in drawn[frame.index]:
            draw_face(img, box, lmk, lines)
        buf = io.BytesIO()
        pil = Image.fromarray(img)
        pil.thumbnail((480, 480))
        pil.save(buf, format="PNG")
        out.append(_img(base64.b64encode(buf.getvalue()).decode(), f"frame {frame.index}"))
    return out


def _still_images(faces: pd.DataFrame, n_images: int) -> list[str]:
    """Still images have no time series: a table of their faces (image, person, expression, the AUs
    present) and one AU map over all of them."""
    from pyfacs.viz import plots

    present = plots.presence_columns(faces)
    scores = [c for c in faces.columns if is_expression_score(c)]
    rows = []
    for _, r in faces.head(MAX_STILL_ROWS).iterrows():
        aus = " ".join(c.split("_")[0] for c in present if r[c] >= 0.5)
        label = r.get("expr_label")
        if not isinstance(label, str) and scores and r[scores].notna().any():  # (other tools: scores only)
            label = r[scores].astype(float).idxmax()[5:]
        cells = [Path(r["source"]).name, int(r["face_id"]), label, aus]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c) if isinstance(c, (str, int)) else '')}</td>"
                                     for c in cells) + "</tr>")
    more = f"<p>... and {len(faces) - MAX_STILL_ROWS} more faces (see the table itself)</p>" \
        if len(faces) > MAX_STILL_ROWS else ""
    everyone = faces.assign(face_id=0)  # (one "person": the map's mean over every face)
    return [f"<h2>Still images ({n_images} images, {len(faces)} faces)</h2>",
            "<table><tr><th>image</th><th>person</th><th>expression</th><th>AUs present</th></tr>"
            + "".join(rows) + "</table>" + more,
            _img(_png(plots.plot_au_map(everyone, 0, title="Mean AU activity, all faces in still images")),
                 "AU map, all faces in still images")]


def write_report(table: FaceTable, output: str | Path) -> Path:
    from pyfacs.viz import plots

    df = table.data
    faces = df[df["face_id"].notna()]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>pyfacs report</title><style>"
             "body{font-family:sans-serif;margin:24px;max-width:1100px}img{max-width:100%;margin:4px}"
             "h2{border-bottom:1px solid #ccc}.frames img{width:48%}td,th{padding:2px 10px;text-align:left}"
             "</style></head><body>",
             "<h1>pyfacs report</h1>"]
    models = [f"{k.replace('_', ' ')}: {v['name']}" for k, v in table.metadata.items()
              if isinstance(v, dict) and "name" in v]
    parts.append(f"<p>{len(df)} rows, {len(faces)} faces, {faces[['source', 'face_id']].drop_duplicates().shape[0]}"
                 f" people; {html.escape(', '.join(models) or 'models: not recorded')}</p>")
    if plots.presence_columns(df):
        parts.append("<h2>AU occurrence</h2>" + _img(_png(plots.plot_au_occurrence(df)), "AU occurrence"))
    stills = plots.still_sources(df)
    if stills:
        parts += _still_images(faces[faces["source"].isin(stills)], len(stills))
    for source, per_source in faces[~faces["source"].isin(stills)].groupby("source", sort=True):
        parts.append(f"<h2>{html.escape(Path(source).name)}</h2>")
        frames = _sample_frames(df, source)
        if frames:
            parts.append("<div class='frames'>" + "".join(frames) + "</div>")
        counts = per_source["face_id"].astype(int).value_counts()  # (frames per person)
        drawn = sorted(counts.sort_values(ascending=False, kind="stable").index[:PEOPLE_DRAWN])
        if len(counts) > len(drawn):  # a crowd: three plots a person would make a page of megabytes
            rest = counts.drop(drawn).sort_index()
            parts.append(f"<p>{len(counts)} people; the {len(drawn)} seen longest are drawn below. The others "
                         "(person: frames): " + ", ".join(f"{k}: {v}" for k, v in rest.items()) + "</p>")
        for fid in drawn:
            fid = int(fid)
            parts.append(f"<h3>Person {fid} ({int(counts[fid])} frames)</h3>")
            parts.append(_img(_png(plots.plot_au_timeseries(df, fid, source=source)), f"AUs person {fid}"))
            if any(is_expression_score(c) for c in df.columns):
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
