"""The main job: sources → frames → faces (detection, mesh, pose) → rows → FaceTable or a file."""
from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from pyfacs import schema
from pyfacs.errors import InputError
from pyfacs.face.faces import Face, FaceFinder
from pyfacs.face.track import IdentityTracker
from pyfacs.io.media import (SEQUENCE_FPS, Frame, expand_inputs, is_video, iter_frames, pil_to_rgb,
                             video_frame_count, warn_of_videos_beside_frames)
from pyfacs.models.runtime import single_threaded_blas
from pyfacs.table import FaceTable, columns_to_frame, frame_rows, output_columns

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


@dataclass
class SourceError:
    source: str
    message: str


class Analyzer:
    """A streaming analysis session.

    Feed it frames one at a time (``faces``) for live video, or whole sources (``run``). A session
    keeps per-face state (which face is which) between the frames of one source; call ``reset`` when
    a new, unrelated source starts (``run`` does so itself).

    An Analyzer follows faces from frame to frame, so it serves one stream: give each thread its own.
    A call made while another is in progress (from another thread, or from a callback of its own
    ``run``) is refused with an :class:`InputError`.

    ``au_model``: ``"auto"`` (OpenFace 2.2's AU models when their files can be had, else pyfacs's
    embedded ``audetnet.ckplus``, said once in the log), a registry name such as
    ``"openface.au-2.2"``, or ``None``. ``au_static`` forces OpenFace's static AU models on videos
    (OpenFace's ``-au_static``; with ``"auto"`` too it needs OpenFace's files: no fallback).
    ``expression_model``: ``"auto"`` (pyfacs's ``esr5.fer2013``), a registry name, or ``None``.
    ``landmarks_from``: an OpenFace or py-feat CSV (or a pyfacs table) whose 68 landmarks are used
    instead of detecting (one video).
    ``faces_cropped``: every input is a face crop, taken as a face whatever the mesh's confidence
    (``min_face_score`` is not applied; ``face_score`` still says how sure the mesh was).
    """

    CHUNK_FRAMES = 256  # rows are handed on in chunks of this many frames

    def __init__(self, *, landmarks: Literal[68, 478] = 68, max_faces: int | None = None,
                 faces_cropped: bool = False, min_face_score: float = 0.5, detect_every: int = 10,
                 au_model: str | None = "auto", au_static: bool = False,
                 expression_model: str | None = "auto",
                 landmarks_from: str | Path | None = None, num_threads: int = 1):
        landmarks = _whole("landmarks", landmarks)
        if landmarks not in (68, 478):
            raise InputError(f"{_name('landmarks')} must be 68 or 478, not {landmarks}")
        if max_faces is not None and _whole("max_faces", max_faces) < 1:
            raise InputError(f"{_name('max_faces')} must be at least 1, not {max_faces}")
        max_faces = None if max_faces is None else int(max_faces)
        min_face_score = _number("min_face_score", min_face_score)
        if not 0.0 <= min_face_score <= 1.0:
            raise InputError(f"{_name('min_face_score')} must lie in [0, 1], not {min_face_score}")
        if _whole("detect_every", detect_every) < 1 or _whole("num_threads", num_threads) < 1:
            raise InputError(f"detect_every and num_threads must be at least 1, not {detect_every}, {num_threads}")
        detect_every, num_threads = int(detect_every), int(num_threads)
        faces_cropped, au_static = _flag("faces_cropped", faces_cropped), _flag("au_static", au_static)
        if au_static and au_model in (None, "none"):
            raise InputError("--au-static picks OpenFace's static AU models: it needs an AU head, not --au-model none")
        if au_static and au_model not in ("auto", "openface.au-2.2"):
            raise InputError(f"--au-static picks OpenFace's static AU models: it goes with --au-model openface.au-2.2 "
                             f"(or auto), not {au_model}")
        if landmarks_from is not None and (landmarks == 478 or faces_cropped):
            raise InputError("--landmarks-from gives 68 points only; drop --landmarks 478 / --faces-cropped")
        from pyfacs.au.heads import make_au_head

        self.landmarks = landmarks
        self.faces_cropped = faces_cropped
        self.identities = IdentityTracker()
        self._next_index = 0
        self._stream_start: float | None = None  # (frame_table: monotonic seconds at its first frame)
        self._lock = threading.Lock()
        if landmarks_from is not None and not isinstance(landmarks_from, (str, os.PathLike)):
            raise InputError(f"{_name('landmarks_from')} is a file's path, not {landmarks_from!r}")
        self.finder = FaceFinder(max_faces=1 if faces_cropped else max_faces, min_face_score=min_face_score,
                                 detect_every=detect_every, with_iris=landmarks == 478,
                                 num_threads=num_threads)
        self.external = _ExternalLandmarks(landmarks_from) if landmarks_from is not None else None
        from pyfacs.expression.heads import make_expression_head

        self.au_head = make_au_head(au_model, static=au_static)
        self.expression_head = make_expression_head(expression_model)
        extra = (self.au_head.columns if self.au_head else []) + \
            (self.expression_head.columns if self.expression_head else [])
        self.columns = output_columns(landmarks=landmarks, extra=extra)

    @property
    def metadata(self) -> dict:
        from pyfacs import __version__
        from pyfacs.models import get_model

        models = ["blazeface.short-range", "blazeface.full-range", "facemesh.468"]
        if self.landmarks == 478:
            models.append("facemesh.iris")
        meta = {
            "schema_version": schema.SCHEMA_VERSION, "pyfacs_version": __version__,
            "models": {m: get_model(m).files[0].sha256 for m in models},
            "options": {"landmarks": self.landmarks, "faces_cropped": self.faces_cropped,
                        "max_faces": self.finder.max_faces, "min_face_score": self.finder.min_face_score,
                        "detect_every": self.finder.detect_every},
        }
        if self.au_head is not None:
            spec = get_model(self.au_head.name)
            meta["au_model"] = {"name": spec.name, "static": self.au_head.static, "licence": spec.licence,
                                "sha256": {f.path: f.sha256 for f in spec.files}}
            for name in getattr(self.au_head, "uses", ()):  # models a head runs inside it (the sequence head's per-frame one)
                meta["au_model"]["sha256"].update({f.path: f.sha256 for f in get_model(name).files})
        if self.external is not None:
            meta["landmarks_from"] = str(self.external.path)
        if self.expression_head is not None:
            spec = get_model(self.expression_head.name)
            meta["expression_model"] = {"name": spec.name, "sha256": spec.files[0].sha256}
        return meta

    def reset(self) -> None:
        """Start a new stream: frame numbers, timestamps and person ids from the beginning."""
        with self._owned():
            self._reset()

    def _reset(self) -> None:
        self.finder.reset()
        self.identities.reset()
        self._next_index = 0
        self._stream_start = None

    @contextmanager
    def _owned(self) -> Iterator[None]:
        """Refuse a call while another is in progress: the face-following state of two streams
        would mix silently (and a live frame would reset the AU head of a run)."""
        if not self._lock.acquire(blocking=False):
            raise InputError("this Analyzer is in the middle of another call (from another thread, or from a "
                             "callback of its own run); give each thread or stream its own Analyzer")
        try:
            yield
        finally:
            self._lock.release()

    def faces(self, rgb: np.ndarray | Image.Image, *, still: bool = False, index: int | None = None
              ) -> list[Face]:
        """Faces in one RGB uint8 frame (H, W, 3) or PIL image; ``index`` is the frame number within
        its source (default: one more than the last call's). In a live stream a new person's ``face_id`` is
        provisional for 15 frames; ``self.identities.final_id(face_id)`` gives the settled one."""
        if not isinstance(still, (bool, np.bool_)):
            raise InputError(f"still must be True or False, not {still!r}")
        if index is not None and (isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer))
                                  or index < 0):
            raise InputError(f"index is a frame number (a whole number, 0 or more), not {index!r}")
        with self._owned():
            return self._faces(rgb, still=still, index=None if index is None else int(index))

    def _faces(self, rgb, *, still: bool, index: int | None) -> list[Face]:
        rgb = _frame_array(rgb)
        index = self._next_index if index is None else index
        if not still:  # (a still image looked at mid-stream is not one of the stream's frames)
            self._next_index = index + 1
        if self.external is not None:
            return self.external.faces(index)
        if self.faces_cropped:
            face = self.finder.cropped(rgb)
            return [face] if face is not None else []
        faces = self.finder(rgb, still=still)
        return faces if still else self.identities(rgb, faces, index)

    def frame_table(self, rgb: np.ndarray | Image.Image, *, timestamp_s: float | None = None,
                    source: str = "live") -> pd.DataFrame:
        """One live frame's rows, with the columns ``analyze`` writes (faces, landmarks, pose, AUs,
        expressions; one empty row when there is no face). ``timestamp_s`` defaults to the seconds
        since the stream's first frame. A frame has no future and no per-person history, so AUs come
        from OpenFace's static models (its dynamic ones calibrate each person over the whole video;
        OpenFace's ``-au_static``) or the embedded model; the AU sequence model, whose window needs
        the next frame, is refused. Smooth live values with ``FaceTable.smoothed(method="causal")``."""
        with self._owned():
            return self._frame_table(rgb, timestamp_s=timestamp_s, source=source)

    def _frame_table(self, rgb, *, timestamp_s: float | None, source: str) -> pd.DataFrame:
        import time

        from pyfacs.au.heads import SequenceAUHead

        if isinstance(self.au_head, SequenceAUHead):
            raise InputError(f"{self.au_head.name} needs the frames after each frame; for live frames use "
                             f"au_model='openface.au-2.2' or 'audetnet.ckplus'")
        now = time.monotonic()  # (when the frame came, not when its analysis ended)
        if timestamp_s is not None and (isinstance(timestamp_s, (bool, np.bool_)) or not (
                isinstance(timestamp_s, (int, float, np.number)) and np.isfinite(timestamp_s))):
            raise InputError(f"timestamp_s must be a finite number of seconds, not {timestamp_s!r}")
        rgb = _frame_array(rgb)
        if self._stream_start is None:
            self._stream_start = now
        index = self._next_index
        faces = self._faces(rgb, still=False, index=index)
        ts = now - self._stream_start if timestamp_s is None else float(timestamp_s)
        rows = frame_rows(source, index, ts, faces, landmarks=self.landmarks)
        if self.au_head is not None and faces:
            self.au_head.begin(video=False)
            with single_threaded_blas():  # (OpenBLAS's thread pool costs more than it gives here)
                for k, f in enumerate(faces):
                    self.au_head.add(k, f.face_id, rgb, f.lmk68, frame=index)
                values = self.au_head.finish()
            for j, column in enumerate(self.au_head.columns):
                rows[column] = np.array([values[k][j] for k in range(len(faces))], np.float32)
        if self.expression_head is not None:
            crops = self.expression_head.crops_for(rgb, faces, whole_image=self.faces_cropped)
            rows.update(self.expression_head.columns_from_frames([crops])[0])
        return columns_to_frame([rows], self.columns)

    def run(self, inputs: Iterable[str | Path], *, every: int = 1, sequence: bool = False,
            fps: float = SEQUENCE_FPS, on_table: Callable[[pd.DataFrame], None],
            on_frame: Callable[[Frame, list[Face] | None], None] | None = None,
            on_error: Callable[[SourceError], None] | None = None,
            on_progress: Callable[[str, int, int | None], None] | None = None) -> list[SourceError]:
        """Analyse every source; rows go to ``on_table`` in DataFrame chunks (a whole source at once
        when an AU head needs the whole video). A source that fails is reported (``on_error``) and
        the rest go on; its rows up to the failure are kept.
        ``on_frame`` sees every decoded frame (for overlays), with its faces when it was analysed.
        ``sequence``: each folder is one video made of its images, at ``fps`` frames a second."""
        with self._owned():
            return self._run(inputs, every=every, sequence=sequence, fps=fps, on_table=on_table,
                             on_frame=on_frame, on_error=on_error, on_progress=on_progress)

    def _run(self, inputs, *, every, sequence, fps, on_table, on_frame, on_error, on_progress) -> list[SourceError]:
        paths = expand_inputs(list(inputs), sequence=sequence)
        self.check_run(paths, every=every, fps=fps)
        for folder in (p for p in paths if sequence and p.is_dir()):
            warn_of_videos_beside_frames(folder)
        errors: list[SourceError] = []
        # images' one-row tables go on together (a write per image made folders crawl: ~30 ms each)
        images = _Coalesced(on_table, self.CHUNK_FRAMES)
        with single_threaded_blas():  # (once: entering it costs ~1 ms, and a folder may hold 10,000 images)
            try:
                self.finder.frame_step = every
                for path in paths:
                    self._reset()
                    still = not is_video(path)
                    if not still:
                        images.flush()  # rows stay in input order
                    try:
                        self._run_source(path, still, every, images.add if still else on_table, on_frame, on_progress,
                                         fps=fps)
                    except Exception as exc:  # noqa: BLE001 - one bad file must not end a folder's run
                        if not isinstance(exc, InputError):
                            if len(paths) == 1:
                                raise  # (nothing else to go on with: an internal error, reported as one)
                            log.debug("%s failed", path, exc_info=True)
                            exc = InputError(f"{path}: unexpected {type(exc).__name__} ({exc}); "
                                             f"the other inputs go on; please report this")
                        err = SourceError(str(path), str(exc))
                        errors.append(err)
                        if on_error:
                            on_error(err)
            finally:
                self.finder.frame_step = 1  # (live frames after a run come one by one,
                self._reset()  # and start a stream of their own: frame 0, new person ids)
                images.flush()
        return errors

    def check_run(self, paths: list[Path], *, every: int = 1, fps: float = SEQUENCE_FPS) -> None:
        """Raise :class:`InputError` if ``run`` would refuse these (expanded) inputs and options."""
        if _whole("every", every) < 1:
            raise InputError(f"{_name('every')} must be at least 1, not {every}")
        if not 0 < _number("fps", fps) < float("inf"):
            raise InputError(f"{_name('fps')} must be a positive number of frames a second, not {fps}")
        if self.external is not None:
            if len(paths) != 1 or not is_video(paths[0]):
                raise InputError("--landmarks-from goes with exactly one video input")
            self.external.check_covers(paths[0])

    def _run_source(self, path, still, every, on_table, on_frame, on_progress, *, fps: float) -> None:
        total = video_frame_count(path) if not still else 1
        pending: list[dict[str, np.ndarray]] = []  # per-frame columns, not yet a DataFrame
        held: list[pd.DataFrame] = []  # chunks kept until the source ends (AU post-processing)
        n_rows = 0
        if self.au_head is not None:
            self.au_head.begin(video=not still, step=every)

        # a head that needs the whole source (OpenFace's per-person calibration) holds the rows until
        # the source ends; the others' values go out with each chunk, so memory stays flat
        hold = self.au_head is not None and self.au_head.whole_source
        expressions = _ExpressionBatches(self.expression_head) if self.expression_head else None
        start = [0]  # row number of the first pending row within the source

        def flush() -> None:
            if expressions is not None:
                expressions.complete()
            if pending:
                if self.identities.relabel:  # persons merged since these rows were made
                    for rows in pending:
                        rows["face_id"] = np.array([i if pd.isna(i) else self.identities.final_id(int(i))
                                                    for i in rows["face_id"]], dtype=object)
                df = columns_to_frame(pending, self.columns)
                pending.clear()
                if hold:
                    held.append(df)
                    return
                if self.au_head is not None:
                    _fill(df, self.au_head.finish(), self.au_head.columns, offset=start[0])
                start[0] += len(df)
                on_table(df)

        try:
            for frame in _prefetch(iter_frames(path, fps=fps)):
                faces = None
                if frame.index % every == 0:
                    faces = self._faces(frame.rgb, still=still, index=frame.index)
                    if self.au_head is not None:
                        for k, f in enumerate(faces):
                            self.au_head.add(n_rows + k, f.face_id, frame.rgb, f.lmk68, frame=frame.index)
                    rows = frame_rows(frame.source, frame.index, frame.timestamp_s, faces,
                                      landmarks=self.landmarks)
                    if expressions is not None:
                        expressions.add(rows, self.expression_head.crops_for(
                            frame.rgb, faces, whole_image=self.faces_cropped))
                    pending.append(rows)
                    n_rows += len(rows["frame"])
                    if len(pending) >= self.CHUNK_FRAMES and not self.identities.unsettled:
                        flush()  # (never while a new person may still turn out to be an earlier one)
                if on_frame:
                    on_frame(frame, faces)  # faces is None on frames that were not analysed
                if on_progress:
                    on_progress(str(path), frame.index + 1, total)
        finally:  # on a decoding error too: the rows up to there are kept
            self.identities.settle()
            try:
                flush()
            finally:
                if expressions is not None:
                    expressions.close()
            if held:
                df = pd.concat(held, ignore_index=True)
                if self.identities.relabel and hasattr(self.au_head, "merge"):  # one person, one calibration
                    self.au_head.merge(self.identities.final_id)
                _fill(df, self.au_head.finish(), self.au_head.columns, offset=0)
                on_table(df)


def _frame_array(rgb) -> np.ndarray:
    """A frame as an RGB uint8 array (H, W, 3): arrays are checked, PIL images converted as
    ``analyze`` reads files (EXIF rotation, 16-bit scaled, transparency white)."""
    if not isinstance(rgb, np.ndarray):
        if not hasattr(rgb, "convert"):
            raise InputError(f"frames must be RGB uint8 arrays of shape (H, W, 3), not {type(rgb).__name__}")
        rgb = pil_to_rgb(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or 0 in rgb.shape:
        raise InputError(f"frames must be RGB uint8 arrays of shape (H, W, 3), not {rgb.dtype} {rgb.shape}")
    return rgb


def _name(option: str) -> str:
    """An option as both its callers know it: the keyword and the command-line flag."""
    return f"{option} (--{option.replace('_', '-')})"


def _whole(option: str, value) -> int:
    """A whole-number option (NumPy integers too) as a Python int; floats, strings and bools refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{_name(option)} must be a whole number, not {value!r}")
    return int(value)


def _number(option: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{_name(option)} must be a number, not {value!r}")
    return float(value)


def _flag(option: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{_name(option)} must be True or False, not {value!r}")
    return bool(value)


class _Coalesced:
    """Holds small tables and hands them on as one once they reach ``rows`` rows (or on ``flush``)."""

    def __init__(self, on_table: Callable[[pd.DataFrame], None], rows: int):
        self.on_table, self.rows = on_table, rows
        self.held: list[pd.DataFrame] = []
        self.count = 0

    def add(self, df: pd.DataFrame) -> None:
        self.held.append(df)
        self.count += len(df)
        if self.count >= self.rows:
            self.flush()

    def flush(self) -> None:
        if self.held:
            df = pd.concat(self.held, ignore_index=True) if len(self.held) > 1 else self.held[0]
            self.held, self.count = [], 0
            self.on_table(df)


class _ExpressionBatches:
    """Runs the expression head in a thread of its own (ONNX Runtime releases the GIL), so on two
    cores it overlaps the next frames' faces and AUs; crops of ``FRAMES`` frames go as one batch
    (about 15% more faces/s than one frame at a time). Results land in each frame's rows."""

    FRAMES = 8

    def __init__(self, head):
        from concurrent.futures import ThreadPoolExecutor

        self.head = head
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="pyfacs-expression")
        self.batch: list[tuple[dict, np.ndarray | None]] = []  # (a frame's rows, its crops)
        self.running: list = []  # (the batch's rows, its columns to come)

    def add(self, rows: dict[str, np.ndarray], crops: np.ndarray | None) -> None:
        self.batch.append((rows, crops))
        if len(self.batch) >= self.FRAMES:
            self._submit()

    def _submit(self) -> None:
        if self.batch:
            rows, crops = zip(*self.batch)
            self.running.append((rows, self.pool.submit(self.head.columns_from_frames, list(crops))))
            self.batch = []

    def complete(self) -> None:
        """Every frame added so far gets its columns."""
        self._submit()
        for rows, done in self.running:
            for r, cols in zip(rows, done.result()):
                r.update(cols)
        self.running.clear()

    def close(self) -> None:
        self.pool.shutdown()


def _fill(df: pd.DataFrame, values: dict[int, np.ndarray], columns: list[str], *, offset: int) -> None:
    """Write a head's per-row values (keyed by row number within the source) into ``df``."""
    # (a run interrupted between a frame's AU input and its rows leaves values for rows that never came)
    rows = np.array([r for r in values if 0 <= r - offset < len(df)], np.int64)
    if len(rows):
        df.loc[rows - offset, columns] = np.stack([values[r] for r in rows]).astype(np.float32)


class _ExternalLandmarks:
    """Faces from another tool's 68 landmarks (an OpenFace or py-feat CSV, or a pyfacs table), by
    frame index."""

    def __init__(self, path: str | Path):
        from pyfacs.io.interop import read_landmarks

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"--landmarks-from {self.path} " +
                             ("is a folder; name the CSV" if self.path.is_dir() else "does not exist"))
        d = read_landmarks(self.path).data
        if "source" in d and d["source"].nunique() > 1:  # a pyfacs table of several inputs
            raise InputError(f"--landmarks-from {self.path} holds {d['source'].nunique()} sources; give the table "
                             "of this video alone")
        self.n_frames = int(d["frame"].max()) + 1 if len(d) else 0
        self._checked: Path | None = None
        ok = d["lmk68_x_0"].notna().to_numpy()
        xy = FaceTable(d).landmarks_array
        pose = d[schema.POSE_COLUMNS].to_numpy(np.float64) if "pose_yaw_deg" in d else np.full((len(d), 3), np.nan)
        self._by_frame: dict[int, list[Face]] = {}
        for i in np.nonzero(ok)[0]:
            pts = xy[i].astype(np.float64)
            face = Face(int(d["face_id"].iloc[i]), float(d["face_score"].iloc[i]),
                        np.concatenate([pts.min(0), pts.max(0)]), pts, tuple(pose[i]))
            self._by_frame.setdefault(int(d["frame"].iloc[i]), []).append(face)
        self._centres = np.array([f.box.reshape(2, 2).mean(0) for fs in self._by_frame.values() for f in fs])

    def check_covers(self, video: Path) -> None:
        """Warn when the CSV's frames or faces do not fit the video's: most likely another video's CSV."""
        from pyfacs.io.media import video_frame_size

        if video == self._checked:
            return  # (warned once: the CLI checks before it opens the output, run checks again)
        self._checked, n, size = video, video_frame_count(video), video_frame_size(video)
        if n and abs(n - self.n_frames) > max(3, 0.02 * n):  # (containers may declare a few frames more)
            log.warning("--landmarks-from %s covers %d frames, %s has %d: is it this video's CSV?",
                        self.path.name, self.n_frames, video.name, n)
        if size and len(self._centres):
            outside = ((self._centres < 0) | (self._centres > np.array(size))).any(1).mean()
            if outside > 0.01:
                log.warning("--landmarks-from %s: %.0f%% of its faces lie outside %s's %d×%d frame: is it this "
                            "video's CSV?", self.path.name, 100 * outside, video.name, *size)

    def faces(self, index: int) -> list[Face]:
        return self._by_frame.get(index, [])


def _prefetch(frames: Iterator[Frame], depth: int = 8) -> Iterator[Frame]:
    """Decode in a background thread (FFmpeg releases the GIL) through a bounded queue, so decoding
    overlaps inference and memory stays flat."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    _END = object()

    def work() -> None:
        try:
            for f in frames:
                put(f)
                if stop.is_set():
                    return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(exc)
        finally:
            getattr(frames, "close", lambda: None)()  # the video file now, not when collected

    def put(item) -> None:  # never blocks for good: the consumer may have stopped reading
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

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
            faces_cropped: bool = False, min_face_score: float = 0.5, au_model: str | None = "auto",
            au_static: bool = False, expression_model: str | None = "auto",
            landmarks_from: str | Path | None = None, sequence: bool = False,
            fps: float | None = None) -> FaceTable:
    """Analyse images, folders, globs or videos into a :class:`FaceTable` (and write it to ``output``
    if given: .parquet, .csv or .jsonl). Sources that cannot be read raise :class:`InputError` when
    they are the only input; with several inputs they are logged and skipped. ``sequence``: each
    folder is one video made of its images (OpenFace's ``-fdir``), at ``fps`` frames a second (default 30)."""
    if fps is not None and not sequence:  # (as the CLI: a video's rate is its own; an image has none)
        raise InputError("fps sets the frame rate of a sequence=True folder; video files carry their own")
    fps = SEQUENCE_FPS if fps is None else fps
    if isinstance(inputs, (str, os.PathLike, bytes)):
        inputs = [inputs]
    inputs = list(inputs) if isinstance(inputs, Iterable) and not isinstance(inputs, np.ndarray) else [inputs]
    inputs = [Path(i) if isinstance(i, os.PathLike) else i for i in inputs]
    if bad := [i for i in inputs if not isinstance(i, (str, Path))]:
        raise InputError(f"analyze takes paths (files, folders, globs), not a {type(bad[0]).__name__}; "
                         f"for an image in memory use pyfacs.Analyzer().frame_table(rgb_array)")
    if output is not None:
        from pyfacs.io.sinks import check_output_path

        check_output_path(output)  # before the work, not after it
    analyzer = Analyzer(landmarks=landmarks, max_faces=max_faces, faces_cropped=faces_cropped,
                        min_face_score=min_face_score, au_model=au_model, au_static=au_static,
                        expression_model=expression_model, landmarks_from=landmarks_from)
    chunks: list[pd.DataFrame] = []
    errors = analyzer.run(inputs, every=every, sequence=_flag("sequence", sequence), fps=fps, on_table=chunks.append,
                          on_error=lambda e: log.error("%s", e.message))
    if errors and not chunks:
        raise InputError(errors[0].message)
    meta = analyzer.metadata | {"errors": [e.__dict__ for e in errors]}
    meta["options"]["every"] = every
    if sequence:
        meta["options"]["sequence_fps"] = float(fps)
    data = pd.concat(chunks, ignore_index=True) if chunks else columns_to_frame([], analyzer.columns)
    table = FaceTable(data, meta)
    if output is not None:
        table.save(output)
    return table
