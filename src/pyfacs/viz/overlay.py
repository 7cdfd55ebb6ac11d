"""Draw boxes, landmarks, person ids, head pose, the expression and the AUs present on frames;
write PNG or MP4."""
from __future__ import annotations

import os
from fractions import Fraction
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from pyfacs import schema
from pyfacs.errors import InputError
from pyfacs.io.sinks import check_writable

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4",)
_GREEN, _YELLOW, _WHITE, _BLACK = (40, 220, 40), (255, 210, 0), (255, 255, 255), (0, 0, 0)
TOP_AUS = 4  # AUs named per face: the strongest present


def draw_face(out: np.ndarray, box, lmk68: np.ndarray, lines: list[str]) -> None:
    """Draw one face's box, landmarks and text lines on ``out``, in place: above the box, or inside
    it from its top where the frame has no room above."""
    scale = max(1.0, max(out.shape[:2]) / 640)
    thick = max(1, int(round(scale)))
    step = int(14 * scale)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(out, (x1, y1), (x2, y2), _GREEN, thick)
    for x, y in lmk68:
        if np.isfinite(x) and np.isfinite(y):
            cv2.circle(out, (int(round(x)), int(round(y))), thick, _YELLOW, -1)
    top = y1 - 6 - step * (len(lines) - 1)
    if top < step:  # no room above the box
        top = max(y1, 0) + step
    for i, text in enumerate(lines):
        org = (max(x1, 2), top + step * i)
        # a dark outline first: white text alone vanishes on light backgrounds
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, _BLACK, thick + 2, cv2.LINE_AA)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, _WHITE, thick, cv2.LINE_AA)


def face_lines(faces: pd.DataFrame) -> list[list[str]]:
    """The text drawn beside each face row: its person id and detection score, head pose, expression
    (with its probability) and the strongest AUs present — by probability (``AUxx_p`` ≥ 0.5) where
    the head gives one, else by intensity among those whose presence (``AUxx_c``) is 1."""
    n = len(faces)

    def block(columns: list[str]) -> np.ndarray:  # (n, len(columns)), NaN for a column the table lacks
        return np.stack([faces[c].to_numpy(np.float64) if c in faces else np.full(n, np.nan) for c in columns], 1) \
            if columns else np.empty((n, 0))

    score, pose = block(["face_score"])[:, 0], block(schema.POSE_COLUMNS)
    classes = [c[len("expr_"):] for c in faces.columns if schema.is_expression_score(c)]
    probs = block([f"expr_{c}" for c in classes])
    labels = faces["expr_label"].to_numpy(object) if "expr_label" in faces else np.full(n, None, object)
    aus = sorted({c[:-2] for c in faces.columns if schema.is_au_column(c)})
    p, c, r = (block([f"{au}_{k}" for au in aus]) for k in "pcr")
    strength = np.where(np.isfinite(p), np.where(p >= 0.5, p, np.nan),
                        np.where(c == 1, np.where(np.isfinite(r), r, 0.0), np.nan))
    out = []
    for i, face_id in enumerate(faces["face_id"].to_numpy()):
        lines = [f"id {int(face_id)}" + (f"  {score[i]:.2f}" if np.isfinite(score[i]) else "")]
        if np.isfinite(pose[i]).all():
            lines.append("pitch {:+.0f} yaw {:+.0f} roll {:+.0f}".format(*pose[i]))
        label = labels[i] if isinstance(labels[i], str) else None
        if label is None and np.isfinite(probs[i]).any():  # (other tools' tables: scores, no label)
            label = classes[int(np.nanargmax(probs[i]))]
        if label is not None:
            prob = probs[i, classes.index(label)] if label in classes else np.nan
            lines.append(label + (f" {prob:.2f}" if np.isfinite(prob) else ""))
        present = [k for k in np.argsort(-np.nan_to_num(strength[i], nan=-np.inf), kind="stable")
                   if np.isfinite(strength[i, k])][:TOP_AUS]
        if present:
            lines.append(" ".join(aus[k] for k in present))
        out.append(lines)
    return out


def faces_by_frame(df: pd.DataFrame) -> dict[int, list[tuple[np.ndarray, np.ndarray, list[str]]]]:
    """Per analysed frame, the faces the table's rows describe (box, 68 landmarks, text lines); a
    frame analysed without a face maps to an empty list."""
    out: dict[int, list] = {int(f): [] for f in pd.unique(df["frame"])}
    box = np.stack([df[c].to_numpy(np.float64) if c in df else np.full(len(df), np.nan)
                    for c in schema.BBOX_COLUMNS], 1)
    faces = df[df["face_id"].notna().to_numpy() & np.isfinite(box).all(1)]  # (other tools' tables may lack boxes)
    if faces.empty:
        return out
    x, y = [f"lmk68_x_{i}" for i in range(68)], [f"lmk68_y_{i}" for i in range(68)]
    lmk = np.stack([faces[x].to_numpy(np.float32), faces[y].to_numpy(np.float32)], 2) \
        if set(x + y) <= set(df.columns) else np.zeros((len(faces), 0, 2), np.float32)
    boxes = faces[schema.BBOX_COLUMNS].to_numpy(np.float64)
    for frame, b, pts, lines in zip(faces["frame"].to_numpy(), boxes, lmk, face_lines(faces)):
        out[int(frame)].append((b, pts, lines))
    return out


def table_chunks(path: Path, rows: int = 4096) -> Iterator[pd.DataFrame]:
    """A table pyfacs wrote (.parquet, .csv or .jsonl), a few thousand rows at a time."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield batch.to_pandas()
    elif suffix == ".csv":
        yield from pd.read_csv(path, chunksize=rows)
    else:
        yield from pd.read_json(path, lines=True, chunksize=rows)


class _TableCursor:
    """The table's faces frame by frame, in frame order, holding only a chunk of rows at a time."""

    def __init__(self, chunks: Iterator[pd.DataFrame]):
        self._chunks, self._faces, self._read_to = chunks, {}, -1

    def faces(self, frame: int) -> list | None:
        """The faces of ``frame`` ([] analysed without a face), or None if it was not analysed."""
        while self._read_to <= frame:  # (a frame's rows may straddle two chunks: read one beyond)
            chunk = next(self._chunks, None)
            if chunk is None:
                self._read_to = float("inf")
                break
            if len(chunk):
                for f, faces in faces_by_frame(chunk).items():
                    self._faces.setdefault(f, []).extend(faces)
                self._read_to = max(self._read_to, int(chunk["frame"].max()))
        for earlier in [f for f in self._faces if f < frame]:  # (frames the video does not have)
            del self._faces[earlier]
        return self._faces.pop(frame, None)


class Annotator:
    """An annotated copy of one source — a PNG/JPEG for an image, an MP4 for a video — drawn from the
    table's rows in a second pass over the source, so that it shows what the table says (person ids
    as finally merged, expressions and AUs, some of which are only known at the source's end).
    Written beside the target and put in place when complete: an earlier file is never replaced by
    a cut one."""

    def __init__(self, path: str | Path, *, video: bool, fps: float = 30.0):
        self.path = Path(path).expanduser()
        wanted = VIDEO_SUFFIXES if video else IMAGE_SUFFIXES
        if self.path.suffix.lower() not in wanted:
            raise InputError(f"--annotate {self.path} must end in {' or '.join(wanted)} for "
                             f"{'a video' if video else 'an image'}")
        check_writable(self.path, "--annotate")
        self.fps = fps

    def write(self, source: Path, table: Path, *, fps: float, every: int = 1, on_progress=None) -> None:
        """Draw ``table`` (the output just written, read back a chunk at a time: memory stays flat)
        over ``source``'s frames; a frame that was not analysed (``--every``) shows the latest
        analysed frame's faces. A decoding error ends the file there."""
        from pyfacs.io.media import iter_frames

        part = self.path.with_name(f".{self.path.stem}.part{self.path.suffix}")
        container = stream = None
        shown: list = []
        drawn_to = -1  # the last frame the latest analysed frame's faces stand for
        cursor = _TableCursor(table_chunks(table))
        try:
            try:
                for frame in iter_frames(source, fps=fps):
                    if (faces := cursor.faces(frame.index)) is not None:
                        shown, drawn_to = faces, frame.index + every - 1
                    elif frame.index > drawn_to:  # (past the rows: an analysis that ended early)
                        shown = []
                    img = frame.rgb.copy()
                    for box, lmk, lines in shown:
                        draw_face(img, box, lmk, lines)
                    if self.path.suffix.lower() in IMAGE_SUFFIXES:
                        if not cv2.imwrite(str(part), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
                            raise InputError(f"cannot write --annotate {self.path}; choose another path")
                        break
                    if container is None:
                        container, stream = self._open(part, img)
                    img = np.ascontiguousarray(img[: stream.height, : stream.width])
                    self._encode(container, stream, img)
                    if on_progress:
                        on_progress(frame.index + 1)
            except InputError:  # a source that fails part-way: its annotated frames so far are kept
                if container is None:
                    raise
            if container is not None:
                self._encode(container, stream, None)
                container.close()
                container = None
            os.replace(part, self.path)
        except OSError as exc:
            raise InputError(f"cannot write --annotate {self.path} ({exc.strerror or exc}); the table is written") from None
        finally:
            if container is not None:
                container.close()
            part.unlink(missing_ok=True)

    def _open(self, part: Path, img: np.ndarray):
        import av

        try:
            container = av.open(str(part), mode="w", format="mp4")
        except (OSError, av.error.FFmpegError) as exc:
            raise InputError(f"cannot write --annotate {self.path} ({exc}); choose another path") from None
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        # the source's own rate (29.97, 12.5, 0.4 frames/s), not a rounded one
        stream = container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = img.shape[1] // 2 * 2, img.shape[0] // 2 * 2
        stream.pix_fmt = "yuv420p"
        return container, stream

    @staticmethod
    def _encode(container, stream, img: np.ndarray | None) -> None:
        import av

        try:
            frame = None if img is None else av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        except av.error.FFmpegError as exc:
            raise OSError(str(exc)) from None
