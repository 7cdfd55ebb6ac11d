"""Draw boxes, landmarks, head pose and the strongest AUs/expression on frames; write PNG or MP4."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pyfacs.errors import InputError
from pyfacs.face.faces import Face
from pyfacs.io.sinks import check_writable

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4",)
_GREEN, _YELLOW, _WHITE = (40, 220, 40), (255, 210, 0), (255, 255, 255)


def draw(rgb: np.ndarray, faces: list[Face], labels: list[list[str]] | None = None) -> np.ndarray:
    """A copy of ``rgb`` with each face's box, 68 landmarks, pose and text lines drawn on it."""
    out = rgb.copy()
    for k, f in enumerate(faces):
        p, yw, r = f.pose_deg
        lines = [f"id {f.face_id}  {f.score:.2f}", f"pitch {p:+.0f} yaw {yw:+.0f} roll {r:+.0f}"]
        draw_face(out, f.box, f.lmk68, lines + (labels[k] if labels and k < len(labels) else []))
    return out


def draw_face(out: np.ndarray, box, lmk68: np.ndarray, lines: list[str]) -> None:
    """Draw one face's box, landmarks and text lines (above the box) on ``out``, in place."""
    scale = max(1.0, max(out.shape[:2]) / 640)
    thick = max(1, int(round(scale)))
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(out, (x1, y1), (x2, y2), _GREEN, thick)
    for x, y in lmk68:
        cv2.circle(out, (int(round(x)), int(round(y))), thick, _YELLOW, -1)
    for i, text in enumerate(lines):
        org = (x1, max(12, y1 - 6 - int(14 * scale) * (len(lines) - 1 - i)))
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, _WHITE, thick, cv2.LINE_AA)


class Annotator:
    """Writes an annotated copy of one source: a PNG/JPEG for an image, an MP4 for a video."""

    def __init__(self, path: str | Path, *, video: bool, fps: float = 30.0):
        self.path = Path(path)
        wanted = VIDEO_SUFFIXES if video else IMAGE_SUFFIXES
        if self.path.suffix.lower() not in wanted:
            raise InputError(f"--annotate {self.path} must end in {' or '.join(wanted)} for "
                             f"{'a video' if video else 'an image'}")
        check_writable(self.path, "--annotate")
        self.fps = fps
        self._container = None
        self._stream = None
        self._last: list[Face] = []

    def add(self, rgb: np.ndarray, faces: list[Face] | None) -> None:
        if faces is not None:
            self._last = faces  # frames that were not analysed show the latest result
        img = draw(rgb, self._last)
        if self.path.suffix.lower() in IMAGE_SUFFIXES:
            if not cv2.imwrite(str(self.path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
                raise InputError(f"cannot write --annotate {self.path}; choose another path")
            return
        self._video_frame(img)

    def _video_frame(self, img: np.ndarray) -> None:
        import av

        if self._container is None:
            try:
                self._container = av.open(str(self.path), mode="w")
            except (OSError, av.error.FFmpegError) as exc:
                raise InputError(f"cannot write --annotate {self.path} ({exc}); choose another path") from None
            codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
            self._stream = self._container.add_stream(codec, rate=int(round(self.fps)))
            self._stream.width, self._stream.height = img.shape[1] // 2 * 2, img.shape[0] // 2 * 2
            self._stream.pix_fmt = "yuv420p"
        img = np.ascontiguousarray(img[: self._stream.height, : self._stream.width])
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            self._container.mux(packet)

    def close(self) -> None:
        if self._container is not None:
            import av

            try:
                for packet in self._stream.encode():
                    self._container.mux(packet)
                self._container.close()
            except (OSError, av.error.FFmpegError) as exc:
                raise InputError(f"cannot finish --annotate {self.path} ({exc}); the table is written") from None
            finally:
                self._container = None
