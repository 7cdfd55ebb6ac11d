"""AU heads as pipeline stages, chosen by registry name.

A head sees each face of each frame (``add``) and returns its columns for a whole source at the end
(``finish``): OpenFace's dynamic models need the whole video (person-specific medians, calibration,
smoothing). State is kept per ``face_id``, so several people in one video are normalised separately.
Still images use the static models, as OpenFace does for single images.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from pyfacs.errors import InputError, ModelUnavailableError
from pyfacs.schema import au_column
from pyfacs.temporal.tokens import consecutive_runs

log = logging.getLogger(__name__)

AU_HEADS = ("openface.au-2.2", "audetnet.ckplus", "ausequence.openface-clip")


@dataclass
class _FaceTrack:
    state: object
    rows: list[int] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    reg: list[np.ndarray] = field(default_factory=list)
    cls: list[np.ndarray] = field(default_factory=list)


class OpenFaceAUHead:
    name = "openface.au-2.2"
    whole_source = True  # per-person medians, calibration and smoothing need the whole video

    def __init__(self, *, static: bool = False):
        from pyfacs.au.openface.predictor import OpenFaceAU

        self.static = static
        self.video_head = OpenFaceAU.from_registry(static=static)
        self.still_head = self.video_head if static else OpenFaceAU.from_registry(static=True)
        self.columns = ([au_column(int(a[2:]), "r") for a in self.video_head.intensity_aus]
                        + [au_column(int(a[2:]), "c") for a in self.video_head.presence_aus])
        self._tracks: dict[int, _FaceTrack] = {}
        self._video, self._step = True, 1

    def begin(self, *, video: bool, step: int = 1) -> None:
        """A new source; ``step``: the frames between analysed ones (``--every``)."""
        self._tracks, self._video, self._step = {}, video, step

    def add(self, row: int, face_id: int, rgb: np.ndarray, lmk68: np.ndarray, *, frame: int | None = None) -> None:
        from pyfacs.au.openface.predictor import FaceAUState

        head = self.video_head if self._video else self.still_head
        track = self._tracks.get(face_id)
        if track is None:  # made only when missing: a state holds 14 MB of histograms
            track = self._tracks[face_id] = _FaceTrack(FaceAUState())
        reg, cls = head.step(rgb, lmk68.astype(np.float64), track.state, row)
        track.frames.append(frame if frame is not None else (track.frames[-1] + 1 if track.frames else 0))
        track.rows.append(row)
        track.reg.append(reg)
        track.cls.append(cls)

    def merge(self, final_id) -> None:
        """Pieces of a track found, after they were added, to be one person (``final_id``: a face_id →
        the person's): their frames joined, in order, and calibrated as one person's."""
        from pyfacs.au.openface.predictor import merge_states

        for src in sorted(self._tracks):
            dst = final_id(src)
            if dst == src or src not in self._tracks:
                continue
            piece = self._tracks.pop(src)
            track = self._tracks.setdefault(dst, piece)
            if track is piece:
                continue
            order = np.argsort(track.rows + piece.rows, kind="stable")
            for name in ("frames", "rows", "reg", "cls"):
                joined = getattr(track, name) + getattr(piece, name)
                setattr(track, name, [joined[i] for i in order])
            merge_states(track.state, piece.state)

    def finish(self) -> dict[int, np.ndarray]:
        """Row number → AU values in ``self.columns`` order, for every face added since ``begin``."""
        head = self.video_head if self._video else self.still_head
        out: dict[int, np.ndarray] = {}
        for track in self._tracks.values():
            rows = np.array(track.rows)
            reg, pres = head.finish(np.array(track.reg), np.array(track.cls),
                                    None if head.static else track.state, rows, video=self._video,
                                    runs=consecutive_runs(np.array(track.frames), self._step))
            for i, row in enumerate(rows):
                out[int(row)] = np.concatenate([reg[i], pres[i]])
        self._tracks = {}
        return out


class EmbeddedAUHead:
    """pyfacs's own AU model (``audetnet.ckplus``: AUDetNet, chosen by CV on CK+), shipped
    as ONNX package data. One aligned 48×48 grey face per prediction; no per-person state.
    Columns: ``AUxx_p`` (presence probability) and ``AUxx_c`` (``AUxx_p`` ≥ 0.5)."""

    name = "audetnet.ckplus"
    static = True
    whole_source = False  # one face at a time

    def __init__(self):
        import onnxruntime as ort

        from pyfacs.models import get_model
        from pyfacs.models.hub import resolve_one

        spec = get_model(self.name)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self._session = ort.InferenceSession(str(resolve_one(spec)), opts, providers=["CPUExecutionProvider"])
        self.labels = list(spec.labels)
        self.size = spec.input_size[0]
        aus = [int(label[2:]) for label in self.labels]
        self.columns = [au_column(a, "p") for a in aus] + [au_column(a, "c") for a in aus]
        self._values: dict[int, np.ndarray] = {}

    def begin(self, *, video: bool, step: int = 1) -> None:
        self._values = {}

    def logits(self, rgb: np.ndarray, lmk68: np.ndarray) -> np.ndarray:
        """(n_aus,) presence logits of one face (the AU features of the sequence model too)."""
        from pyfacs.face.align import aligned_gray

        x = aligned_gray(rgb, lmk68, self.size).astype(np.float32)[None, None] / 255.0 - 0.5
        return self._session.run(None, {"input": x})[0][0].astype(np.float64)

    def add(self, row: int, face_id: int, rgb: np.ndarray, lmk68: np.ndarray, *, frame: int | None = None) -> None:
        p = 1.0 / (1.0 + np.exp(-self.logits(rgb, lmk68)))
        self._values[row] = np.concatenate([p, (p >= 0.5).astype(np.float64)])

    def finish(self) -> dict[int, np.ndarray]:
        out, self._values = self._values, {}
        return out


class SequenceAUHead:
    """The AU sequence model (``ausequence.*``): each face's AUs at a frame from a window of that
    face's consecutive analysed frames (edges repeated), so it needs the whole source. Per frame it
    uses the embedded AU model's logits and the landmark shape. Columns: ``AUxx_p``, ``AUxx_c``."""

    static = False
    whole_source = True

    def __init__(self, name: str = "ausequence.openface-clip"):
        import onnxruntime as ort

        from pyfacs.models import get_model
        from pyfacs.models.hub import resolve_one

        spec = get_model(name)
        self.name = name
        self.window = int(spec.extra["window"])
        self._session = ort.InferenceSession(str(resolve_one(spec)), providers=["CPUExecutionProvider"])
        self._frame_model = EmbeddedAUHead()
        self.uses = (self._frame_model.name,)
        aus = [int(label[2:]) for label in spec.labels]
        self.columns = [au_column(a, "p") for a in aus] + [au_column(a, "c") for a in aus]
        self._feats: dict[int, list[tuple[int, int, np.ndarray]]] = {}  # face_id → (row, frame, features)
        self._step = 1

    def begin(self, *, video: bool, step: int = 1) -> None:
        """A new source; ``step``: the frames between analysed ones (``--every``)."""
        self._feats, self._step = {}, step

    def add(self, row: int, face_id: int, rgb: np.ndarray, lmk68: np.ndarray, *, frame: int | None = None) -> None:
        """``frame``: the frame's index in its source, so that a window never spans frames where the
        face was not seen (default: the face's frames follow each other)."""
        from pyfacs.temporal.tokens import frame_features

        seen = self._feats.setdefault(face_id, [])
        frame = (seen[-1][1] + 1 if seen else 0) if frame is None else frame
        seen.append((row, frame, frame_features(self._frame_model, rgb, lmk68)))

    def finish(self) -> dict[int, np.ndarray]:
        from pyfacs.temporal.tokens import windows

        out: dict[int, np.ndarray] = {}
        for seen in self._feats.values():
            for run in consecutive_runs(np.array([f for _, f, _ in seen]), self._step):
                feats = np.stack([seen[i][2] for i in run])
                p = self._session.run(None, {"input": windows(feats, self.window)})[0]
                for i, pr in zip(run, p.astype(np.float64)):
                    out[seen[i][0]] = np.concatenate([pr, (pr >= 0.5).astype(np.float64)])
        self._feats = {}
        return out


# where OpenFace's files were looked for in vain (mirror, cache, offline), in this process
_OPENFACE_UNAVAILABLE: set[tuple] = set()


def make_au_head(name: str | None, *, static: bool = False) -> OpenFaceAUHead | EmbeddedAUHead | SequenceAUHead | None:
    """The head called ``name``. ``"auto"`` is OpenFace's when its files can be had; otherwise, said
    in one log line, pyfacs's embedded ``audetnet.ckplus`` (never invented values)."""
    if name in (None, "none"):
        return None
    if name == "auto" and static:  # --au-static is OpenFace's option: no quiet fallback that drops it
        try:
            return make_au_head("openface.au-2.2", static=True)
        except ModelUnavailableError as exc:
            raise ModelUnavailableError(f"{exc} (--au-static asks for openface.au-2.2's static models; without "
                                        "it, --au-model auto uses audetnet.ckplus)") from None
    if name == "auto":
        where = tuple(os.environ.get(v) for v in ("PYFACS_MODEL_MIRROR", "PYFACS_HOME", "PYFACS_OFFLINE"))
        if where in _OPENFACE_UNAVAILABLE:  # (a loop of analyze calls: one attempt and one warning, not one each)
            log.debug("AUs from audetnet.ckplus: openface.au-2.2 was unavailable earlier in this process")
            return EmbeddedAUHead()
        try:
            head = OpenFaceAUHead(static=static)
        except ModelUnavailableError as exc:
            _OPENFACE_UNAVAILABLE.add(where)
            log.warning("AUs from the embedded model audetnet.ckplus: openface.au-2.2 is unavailable (%s)", exc)
            return EmbeddedAUHead()
        return head
    if name not in AU_HEADS:
        raise InputError(f"unknown AU model {name!r}; choose one of: {', '.join(AU_HEADS)}, none")
    if name == EmbeddedAUHead.name:
        return EmbeddedAUHead()
    if name.startswith("ausequence."):
        return SequenceAUHead(name)
    head = OpenFaceAUHead(static=static)
    _OPENFACE_UNAVAILABLE.clear()  # (its files are here now: "auto" takes them again)
    return head
