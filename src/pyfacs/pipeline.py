"""The main job: sources → frames → faces (detection, mesh, pose) → rows → FaceTable or a file."""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from pyfacs import schema
from pyfacs.errors import InputError
from pyfacs.face.faces import Face, FaceFinder
from pyfacs.io.media import Frame, expand_inputs, is_video, iter_frames, video_frame_count
from pyfacs.table import FaceTable, columns_to_frame, frame_rows, output_columns

log = logging.getLogger(__name__)


@dataclass
class SourceError:
    source: str
    message: str


class Analyzer:
    """A streaming analysis session.

    Feed it frames one at a time (``process``) for live video, or whole sources (``run``). A session
    keeps per-face state (which face is which) between the frames of one source; call ``reset`` when
    a new, unrelated source starts (``run`` does so itself).
    """

    def __init__(self, *, landmarks: Literal[68, 478] = 68, max_faces: int | None = None,
                 faces_cropped: bool = False, min_face_score: float = 0.5, detect_every: int = 10,
                 num_threads: int = 1):
        if landmarks not in (68, 478):
            raise InputError(f"landmarks must be 68 or 478, not {landmarks}")
        if max_faces is not None and max_faces < 1:
            raise InputError(f"max_faces must be at least 1, not {max_faces}")
        if not 0.0 <= min_face_score <= 1.0:
            raise InputError(f"min_face_score must lie in [0, 1], not {min_face_score}")
        self.landmarks = landmarks
        self.faces_cropped = faces_cropped
        self.finder = FaceFinder(max_faces=1 if faces_cropped else max_faces, min_face_score=min_face_score,
                                 detect_every=detect_every, with_iris=landmarks == 478,
                                 num_threads=num_threads)
        self.columns = output_columns(landmarks=landmarks)

    @property
    def metadata(self) -> dict:
        from pyfacs import __version__
        from pyfacs.models import get_model

        models = ["blazeface.short-range", "blazeface.full-range", "facemesh.468"]
        if self.landmarks == 478:
            models.append("facemesh.iris")
        return {
            "schema_version": schema.SCHEMA_VERSION, "pyfacs_version": __version__,
            "models": {m: get_model(m).files[0].sha256 for m in models},
            "options": {"landmarks": self.landmarks, "faces_cropped": self.faces_cropped,
                        "max_faces": self.finder.max_faces, "min_face_score": self.finder.min_face_score,
                        "detect_every": self.finder.detect_every},
        }

    def reset(self) -> None:
        self.finder.reset()

    def faces(self, rgb: np.ndarray, *, still: bool = False) -> list[Face]:
        """Faces in one RGB uint8 frame (H, W, 3)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InputError(f"frames must be RGB uint8 arrays of shape (H, W, 3), not {rgb.dtype} {rgb.shape}")
        if self.faces_cropped:
            face = self.finder.cropped(rgb)
            return [face] if face is not None else []
        return self.finder(rgb, still=still)

    def process(self, frame: Frame, *, still: bool = False) -> tuple[list[Face], dict[str, np.ndarray]]:
        """Faces of one frame and their rows (as columns)."""
        faces = self.faces(frame.rgb, still=still)
        return faces, frame_rows(frame.source, frame.index, frame.timestamp_s, faces, landmarks=self.landmarks)

    def run(self, inputs: Iterable[str | Path], *, every: int = 1,
            on_rows: Callable[[dict[str, np.ndarray]], None],
            on_frame: Callable[[Frame, list[Face] | None], None] | None = None,
            on_error: Callable[[SourceError], None] | None = None,
            on_progress: Callable[[str, int, int | None], None] | None = None) -> list[SourceError]:
        """Analyse every source; rows go to ``on_rows`` frame by frame. A source that fails is
        reported (``on_error``) and the rest go on; its rows up to the failure are kept.
        ``on_frame`` sees every decoded frame (for overlays), with its faces when it was analysed."""
        if every < 1:
            raise InputError(f"--every must be at least 1, not {every}")
        errors: list[SourceError] = []
        for path in expand_inputs(list(inputs)):
            self.reset()
            still = not is_video(path)
            total = video_frame_count(path) if not still else 1
            try:
                for frame in _prefetch(iter_frames(path)):
                    faces = None
                    if frame.index % every == 0:
                        faces, rows = self.process(frame, still=still)
                        on_rows(rows)
                    if on_frame:
                        on_frame(frame, faces)  # faces is None on frames that were not analysed
                    if on_progress:
                        on_progress(str(path), frame.index + 1, total)
            except InputError as exc:
                err = SourceError(str(path), str(exc))
                errors.append(err)
                if on_error:
                    on_error(err)
        return errors


def _prefetch(frames: Iterator[Frame], depth: int = 8) -> Iterator[Frame]:
    """Decode in a background thread (FFmpeg releases the GIL) through a bounded queue, so decoding
    overlaps inference and memory stays flat."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    _END = object()

    def work() -> None:
        try:
            for f in frames:
                while not stop.is_set():
                    try:
                        q.put(f, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            q.put(exc)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join(timeout=5)


def analyze(inputs: str | Path | Iterable[str | Path], *, output: str | Path | None = None,
            every: int = 1, landmarks: Literal[68, 478] = 68, max_faces: int | None = None,
            faces_cropped: bool = False, min_face_score: float = 0.5) -> FaceTable:
    """Analyse images, folders, globs or videos into a :class:`FaceTable` (and write it to ``output``
    if given: .parquet, .csv or .jsonl). Sources that cannot be read raise :class:`InputError` when
    they are the only input; with several inputs they are logged and skipped."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    inputs = list(inputs)
    analyzer = Analyzer(landmarks=landmarks, max_faces=max_faces, faces_cropped=faces_cropped,
                        min_face_score=min_face_score)
    batches: list[dict[str, np.ndarray]] = []
    errors = analyzer.run(inputs, every=every, on_rows=batches.append,
                          on_error=lambda e: log.error("%s", e.message))
    if errors and not batches:
        raise InputError(errors[0].message)
    meta = analyzer.metadata | {"errors": [e.__dict__ for e in errors]}
    table = FaceTable(columns_to_frame(batches, analyzer.columns), meta)
    if output is not None:
        table.save(output)
    return table
