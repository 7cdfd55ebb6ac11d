"""Draw boxes, landmarks, person ids, head pose, the expression and the AUs present on frames;
write PNG or MP4."""
from __future__ import annotations

import os
from fractions import Fraction
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


def face_lines(row: pd.Series) -> list[str]:
    """The text drawn beside a face: its person id and detection score, head pose, expression (with
    its probability) and the strongest AUs present, from the table's row."""
    score = row.get("face_score", np.nan)
    lines = [f"id {int(row['face_id'])}" + (f"  {score:.2f}" if np.isfinite(score) else "")]
    pose = [row.get(c, np.nan) for c in schema.POSE_COLUMNS]
    if np.all(np.isfinite(pose)):
        lines.append("pitch {:+.0f} yaw {:+.0f} roll {:+.0f}".format(*pose))
    label = row.get("expr_label")
    scores = row[[c for c in row.index if schema.is_expression_score(c)]].astype(np.float64)
    if not isinstance(label, str) and scores.notna().any():  # (other tools' tables: scores, no label)
        label = str(scores.idxmax())[len("expr_"):]
    if isinstance(label, str):
        p = row.get(f"expr_{label}", np.nan)
        lines.append(label + (f" {p:.2f}" if np.isfinite(p) else ""))
    if aus := present_aus(row):
        lines.append(" ".join(aus[:TOP_AUS]))
    return lines


def present_aus(row: pd.Series) -> list[str]:
    """AUs present in ``row``, strongest first: by probability (``AUxx_p`` ≥ 0.5) where the head gives
    one, else by intensity among those whose presence (``AUxx_c``) is 1."""
    names = {c[:-2] for c in row.index if schema.is_au_column(c)}
    strength = {}
    for au in names:
        p, c, r = (row.get(f"{au}_{k}", np.nan) for k in "pcr")
        if np.isfinite(p):
            if p >= 0.5:
                strength[au] = p
        elif c == 1:
            strength[au] = r if np.isfinite(r) else 0.0
    return sorted(strength, key=lambda au: (-strength[au], au))


def faces_by_frame(df: pd.DataFrame) -> dict[int, list[tuple[list[float], np.ndarray, list[str]]]]:
    """Per analysed frame, the faces the table's rows describe (box, 68 landmarks, text lines); a
    frame analysed without a face maps to an empty list."""
    x = [f"lmk68_x_{i}" for i in range(68)]
    y = [f"lmk68_y_{i}" for i in range(68)]
    has_lmk = set(x + y) <= set(df.columns)  # (other tools' tables may have boxes alone)
    out: dict[int, list] = {}
    for _, r in df.iterrows():
        faces = out.setdefault(int(r["frame"]), [])
        box = [r.get(c, np.nan) for c in schema.BBOX_COLUMNS]
        if pd.notna(r["face_id"]) and np.all(np.isfinite(np.asarray(box, np.float64))):
            lmk = np.stack([r[x].to_numpy(np.float32), r[y].to_numpy(np.float32)], 1) if has_lmk else np.zeros((0, 2))
            faces.append((box, lmk, face_lines(r)))
    return out


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
        self._faces: dict[int, list] = {}

    def collect(self, df: pd.DataFrame) -> None:
        """Keep what is drawn of a chunk of the table's rows (not the rows themselves)."""
        self._faces.update(faces_by_frame(df))

    def write(self, source: Path, *, fps: float, on_progress=None) -> None:
        """Draw the collected rows over ``source``'s frames; frames that were not analysed show the
        latest analysed frame's faces. A decoding error ends the file there."""
        from pyfacs.io.media import iter_frames

        part = self.path.with_name(f".{self.path.stem}.part{self.path.suffix}")
        container = stream = None
        shown: list = []
        try:
            try:
                for frame in iter_frames(source, fps=fps):
                    shown = self._faces.get(frame.index, shown)
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
