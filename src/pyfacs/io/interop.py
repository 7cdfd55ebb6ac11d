"""Readers for other tools' output files, mapped onto pyfacs's column vocabulary.

Every reader returns a :class:`FaceTable` with ``source`` (the file read), ``frame`` (from 0),
``timestamp_s`` and ``face_id``, then whatever the tool measured under pyfacs's names (see
:mod:`pyfacs.schema`); a column pyfacs has no name for keeps the tool's own name. A frame in which the
tool found no face keeps its row, with ``face_id`` empty and every measured value NaN, so that means
over time are not pulled towards the zeros some tools write there. A file that cannot be read raises
:class:`InputError` with one line saying why. :func:`read_table` tells the formats apart by content.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pyfacs.data.fer2013 import LABELS
from pyfacs.errors import InputError
from pyfacs.io.csvfile import existing_file, numbers, read_csv
from pyfacs.table import FaceTable

log = logging.getLogger(__name__)

_X68 = [f"x_{i}" for i in range(68)]
_Y68 = [f"y_{i}" for i in range(68)]
FORMATS = ("OpenFace 2 CSV (FeatureExtraction or FaceLandmarkImg), py-feat CSV, iMotions FACET text export, "
           "Affectiva JSON, or a table pyfacs wrote")


# shared helpers ------------------------------------------------------------------------------------
def _whole(values: pd.Series, path: Path, col: str) -> np.ndarray:
    v = values.to_numpy(np.float64)
    bad = ~np.isfinite(v) | (v != np.round(v))
    if bad.any():
        raise InputError(f"{path}: column {col!r} must hold whole numbers, not {v[bad][0]} "
                         f"(data row {int(np.argmax(bad)) + 1})")
    return v.astype(np.int64)


def _landmarks(xs: np.ndarray, ys: np.ndarray) -> dict[str, np.ndarray]:
    """68-point landmark columns, and the box around the points (the box pyfacs's pipeline draws too)."""
    cols = {"bbox_x1": xs.min(1), "bbox_y1": ys.min(1), "bbox_x2": xs.max(1), "bbox_y2": ys.max(1)}
    cols.update({f"lmk68_x_{i}": xs[:, i] for i in range(68)})
    cols.update({f"lmk68_y_{i}": ys[:, i] for i in range(68)})
    return cols


def _au_name(label: str | int, kind: str) -> str:
    return f"AU{int(label):02d}_{kind}"


def _expressions(labels: dict[str, str], values: Callable[[str], np.ndarray]) -> dict[str, np.ndarray]:
    """``expr_<label>`` columns in pyfacs's label order (whatever order the tool wrote them in)."""
    order = sorted(labels, key=lambda c: LABELS.index(labels[c]))
    return {f"expr_{labels[c]}": values(c) for c in order}


def _table(path: Path, tool: str, *, frame: np.ndarray, timestamp_s: np.ndarray, face_id: np.ndarray,
           has_face: np.ndarray, measured: dict[str, np.ndarray], rest: pd.DataFrame,
           blank: Sequence[str] = (), meta: dict | None = None) -> FaceTable:
    """Assemble the FaceTable: identity columns, ``measured`` (float32, in the order given) and the
    tool's unmapped ``rest``. Rows without a face get face_id <NA> and NaN for every measured column
    and for the ``blank`` columns of ``rest``."""
    n = len(frame)
    has_face = np.asarray(has_face, bool)
    ids = pd.DataFrame({
        "source": pd.array([str(path)] * n, dtype="string"),
        "frame": np.asarray(frame, np.int64),
        "timestamp_s": np.asarray(timestamp_s, np.float64),
        "face_id": pd.Series(np.where(has_face, face_id, np.nan)).astype("Int64"),
    })
    block = np.full((n, len(measured)), np.nan, np.float32)
    for j, v in enumerate(measured.values()):
        block[:, j] = np.asarray(v, np.float64)
    block[~has_face] = np.nan
    values = pd.DataFrame(block, columns=list(measured))
    rest = rest.reset_index(drop=True)
    rest = rest.assign(**{c: rest[c].mask(~has_face) for c in blank})
    meta = {"source_tool": tool, "path": str(path), **(meta or {})}
    return FaceTable(pd.concat([ids, values, rest], axis=1), meta)


# OpenFace 2 ----------------------------------------------------------------------------------------
_OPENFACE_IDS = ("frame", "face_id", "face", "timestamp", "confidence", "success", "pose_Rx", "pose_Ry", "pose_Rz")
_OPENFACE_AU = re.compile(r"AU\d\d_[rc]")


def read_openface_csv(path: str | Path) -> FaceTable:
    """An OpenFace 2.x CSV as a FaceTable: from ``FeatureExtraction`` / ``FaceLandmarkVidMulti`` (a
    row per frame and face) or ``FaceLandmarkImg`` (one image, a row per face: ``face, confidence, ...``
    with no frame or timestamp, read as frame 0 at 0 s with ``face_id`` from ``face``).

    Renamed: ``frame`` (OpenFace counts from 1; pyfacs from 0), ``timestamp``→``timestamp_s``,
    ``confidence``→``face_score``, ``x_i``/``y_i``→``lmk68_x_i``/``lmk68_y_i`` (the box ``bbox_*`` is
    drawn round them), ``pose_Rx/Ry/Rz`` (radians)→``pose_pitch_deg/yaw_deg/roll_deg``. ``AUxx_r``
    (intensity 0-5) and ``AUxx_c`` (presence 0/1) keep their names, as does every other column (gaze,
    3D landmarks, PDM parameters ``p_*``, ``success``). Landmarks may be absent (``FeatureExtraction
    -aus`` output): then the table has no ``lmk68_*`` or box columns. OpenFace writes zeros for every value of a frame
    it failed on (``success`` 0): those rows become "no face" rows, NaN for all but the frame's
    identity and ``success``, so that zeros do not pass for measurements.
    """
    path = existing_file(path)
    df = read_csv(path, "OpenFace 2 CSV")
    image = "frame" not in df.columns and "face" in df.columns  # FaceLandmarkImg's header
    needed = {"face", "confidence"} if image else {"frame", "timestamp"}
    if not needed <= set(df.columns):
        raise InputError(f"{path} is not an OpenFace 2 CSV: it lacks {sorted(needed - set(df.columns))}; "
                         f"run FeatureExtraction with its default outputs")
    aus = [c for c in df.columns if _OPENFACE_AU.fullmatch(c)]
    has_landmarks = set(_X68) | set(_Y68) <= set(df.columns)  # (not in FeatureExtraction -aus output)
    if not has_landmarks and not aus:
        raise InputError(f"{path} is not an OpenFace 2 CSV with results: it has neither 2D landmarks (x_0 ... y_67) "
                         f"nor AUs (AUxx_r, AUxx_c); run FeatureExtraction with -2Dfp and/or -aus")
    used = [c for c in (*_OPENFACE_IDS, *(_X68 + _Y68 if has_landmarks else ())) if c in df.columns]
    num = numbers(df, used + aus, path)
    n = len(df)
    if image:
        frame, ts, face_id = np.zeros(n, np.int64), np.zeros(n), _whole(num["face"], path, "face")
    else:
        frame, ts = _whole(num["frame"], path, "frame") - 1, num["timestamp"].to_numpy()
        face_id = _whole(num["face_id"], path, "face_id") if "face_id" in num else np.zeros(n, np.int64)
    has_face = (num["success"] != 0).to_numpy() if "success" in num else np.ones(n, bool)
    measured = {"face_score": num["confidence"] if "confidence" in num else np.full(n, np.nan),
                **(_landmarks(num[_X68].to_numpy(), num[_Y68].to_numpy()) if has_landmarks else {})}
    if {"pose_Rx", "pose_Ry", "pose_Rz"} <= set(num.columns):
        measured.update(pose_pitch_deg=np.degrees(num["pose_Rx"]), pose_yaw_deg=np.degrees(num["pose_Ry"]),
                        pose_roll_deg=np.degrees(num["pose_Rz"]))
    measured.update({c: num[c] for c in aus})
    rest = df[[c for c in df.columns if c not in set(used) | set(aus)] + (["success"] if "success" in df else [])]
    return _table(path, "OpenFace 2", frame=frame, timestamp_s=ts, face_id=face_id, has_face=has_face,
                  measured=measured, rest=rest, blank=[c for c in rest.columns if c != "success"])


# py-feat -------------------------------------------------------------------------------------------
_PYFEAT_BOX = ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight")
_PYFEAT_POSE = {"Pitch": "pose_pitch_deg", "Yaw": "pose_yaw_deg", "Roll": "pose_roll_deg"}
_PYFEAT_EXPR = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
                "sadness": "sad", "surprise": "surprise", "neutral": "neutral"}
_PYFEAT_AU = re.compile(r"AU(\d+)")


def _faces_per_frame(keys: pd.DataFrame, has_face: np.ndarray) -> np.ndarray:
    """0, 1, ... for the faces of each frame in file order (py-feat does not track faces, so this is
    an index within the frame, not a person across frames)."""
    ids = np.full(len(keys), np.nan)
    faces = keys[has_face]
    ids[has_face] = faces.groupby(list(faces.columns), sort=False, dropna=False).cumcount().to_numpy()
    return ids


def _pyfeat_aus(num: pd.DataFrame, path: Path) -> dict[str, pd.Series]:
    """py-feat's AU detectors are presence classifiers (none rates FACS intensity): its xgb/logistic
    models give probabilities, its svm model 0/1 decisions. Either way the value is in [0, 1] and
    reads as ``AUxx_p``. Values outside [0, 1] (the withdrawn rf model of py-feat <= 0.3) are no
    probability; those columns keep their names."""
    v = num.to_numpy()
    if np.all(np.isnan(v) | ((v >= 0) & (v <= 1))):
        return {_au_name(_PYFEAT_AU.fullmatch(c)[1], "p"): num[c] for c in num.columns}
    log.warning("%s: AU values outside [0, 1] are not probabilities; kept under py-feat's names", path)
    return {}


def read_pyfeat_csv(path: str | Path) -> FaceTable:
    """A py-feat ``Fex`` CSV (``Detector.detect_*`` output saved with ``to_csv``) as a FaceTable.

    Mapped: ``FaceRectX/Y/Width/Height`` (pixels)→``bbox_x1..bbox_y2``, ``FaceScore``→``face_score``,
    ``x_i``/``y_i``→``lmk68_x_i``/``lmk68_y_i``, ``Pitch/Yaw/Roll`` (degrees, py-feat's own sign
    convention)→``pose_*_deg``, ``AUxx``→``AUxx_p`` (presence probability, see below), and the emotion
    probabilities (softmax, summing to 1) ``anger, disgust, fear, happiness, sadness, surprise,
    neutral``→``expr_angry ... expr_neutral``. ``frame`` counts from 0 as in py-feat (row number when
    absent). ``timestamp_s`` is NaN: the file holds no times and no frame rate. ``face_id`` numbers the
    faces within a frame. Rows without a face box (py-feat writes NaN rows for frames with no face) are
    "no face" rows. Other columns (``input``, ``approx_time``, identity embeddings, ...) keep their names.

    AU values: every py-feat version writes presence estimates in [0, 1], never FACS intensity. With
    the xgb (default since 0.5) and logistic models they are probabilities; with the svm model they are
    hard 0/1 decisions, which read as probabilities 0 or 1. A file does not say which model wrote it;
    a column of only 0 and 1 (AU07 and AU20 in py-feat's test files 001.csv/002.csv) is most likely a
    hard decision. AU values outside [0, 1] are kept under their own names, with a warning.
    """
    path = existing_file(path)
    df = read_csv(path, "py-feat CSV")
    if missing := [c for c in _PYFEAT_BOX if c not in df.columns]:
        raise InputError(f"{path} is not a py-feat CSV: it has no {missing[0]} column")
    aus = [c for c in df.columns if _PYFEAT_AU.fullmatch(c)]
    lmk = _X68 + _Y68 if set(_X68 + _Y68) <= set(df.columns) else []
    maps = [c for c in ("frame", "FaceScore", *_PYFEAT_POSE, *_PYFEAT_EXPR) if c in df.columns]
    num = numbers(df, [*_PYFEAT_BOX, *lmk, *aus, *maps], path)
    n = len(df)
    frame = _whole(num["frame"], path, "frame") if "frame" in num else np.arange(n)
    has_face = num[list(_PYFEAT_BOX)].notna().all(axis=1).to_numpy()
    keys = pd.DataFrame({"frame": frame, **({"input": df["input"].to_numpy()} if "input" in df else {})})
    x, y, w, h = (num[c].to_numpy() for c in _PYFEAT_BOX)
    measured = {"face_score": num["FaceScore"] if "FaceScore" in num else np.full(n, np.nan),
                "bbox_x1": x, "bbox_y1": y, "bbox_x2": x + w, "bbox_y2": y + h}
    if lmk:
        measured.update({k: v for k, v in _landmarks(num[_X68].to_numpy(), num[_Y68].to_numpy()).items()
                         if k.startswith("lmk68_")})
    measured.update({new: num[old] for old, new in _PYFEAT_POSE.items() if old in num})
    au_cols = _pyfeat_aus(num[aus], path)
    measured.update(au_cols)
    measured.update(_expressions({c: v for c, v in _PYFEAT_EXPR.items() if c in num}, num.__getitem__))
    used = {*_PYFEAT_BOX, *lmk, *maps, *(aus if au_cols else [])}
    return _table(path, "py-feat", frame=frame, timestamp_s=np.full(n, np.nan),
                  face_id=_faces_per_frame(keys, has_face), has_face=has_face, measured=measured,
                  rest=df[[c for c in df.columns if c not in used]])


# iMotions (Emotient FACET) -------------------------------------------------------------------------
_FACET_EXPR = {"Anger": "angry", "Disgust": "disgust", "Fear": "fear", "Joy": "happy", "Sadness": "sad",
               "Surprise": "surprise", "Neutral": "neutral"}
_FACET_POSE = {"Pitch Degrees": "pose_pitch_deg", "Yaw Degrees": "pose_yaw_deg", "Roll Degrees": "pose_roll_deg"}
_FACET_BOX = ("FaceRect X", "FaceRect Y", "FaceRect Width", "FaceRect Height")
_FACET_AU = re.compile(r"AU(\d+) Evidence")


def _imotions_preamble(path: Path) -> tuple[int, str, dict[str, str]]:
    """(lines before the column header, the header line, the ``#Key : value`` lines). iMotions pads
    the preamble lines with the separator, so a line is stripped of tabs before it is looked at."""
    info: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            for skip, line in enumerate(f):
                text = line.strip(" \t\r\n")
                if text and not text.startswith("#"):
                    return skip, text, info
                key, _, value = text.lstrip("#").partition(":")
                if value:
                    info[key.strip()] = value.strip()
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({exc.strerror})") from None
    raise InputError(f"{path} has no column header: it is empty or holds only '#' lines")


def _evidence_probability(evidence: pd.Series) -> np.ndarray:
    """FACET's Evidence is the base-10 log of the odds that the expression is present (iMotions's
    FACET guide), so the probability is 1 / (1 + 10^-evidence)."""
    return 1.0 / (1.0 + np.power(10.0, -evidence.to_numpy()))


def read_imotions(path: str | Path) -> FaceTable:
    """An iMotions 5/6 text export with Emotient FACET results (tab-separated, ``#Study``/``#Version``
    lines above the column header) as a FaceTable.

    Only FACET rows are kept (``EventSource`` names FACET; iMotions interleaves rows of other sensors,
    e.g. the eye tracker, which repeat the last FACET values). Each FACET row is one analysed camera
    frame: ``frame`` counts them from 0 (iMotions's ``FrameNo`` restarts with every stimulus and is -1
    before a stimulus starts, so it is kept as ``FrameNo``), ``timestamp_s`` is ``Timestamp`` (ms from the
    start of the recording) / 1000. ``NoOfFaces`` of 0 or -1 marks a "no face" row; otherwise ``face_id``
    is 0 (FACET exports one face).

    Mapped: ``FaceRect X/Y/Width/Height`` (pixels)→``bbox_*``, ``Pitch/Yaw/Roll Degrees``→``pose_*_deg``
    (FACET's sign convention), ``AUn Evidence``→``AUnn_p`` and ``Joy/Anger/Surprise/Fear/Disgust/Sadness/
    Neutral Evidence``→``expr_happy ... expr_neutral`` with p = 1 / (1 + 10^-evidence) (Evidence is the
    log10 odds of presence). Each is FACET's own detector: the ``expr_*`` do not sum to 1. The raw
    Evidence columns stay too, as do Contempt/Confusion/Frustration/Positive/Negative Evidence (no pyfacs
    label), the ``Intensity`` columns (a scale iMotions does not define in the export), the seven
    feature points (not the 68-point scheme) and every study/stimulus/sensor column. The ``#`` lines go
    into the metadata under ``imotions``.
    """
    path = existing_file(path)
    skip, header, info = _imotions_preamble(path)
    df = read_csv(path, "iMotions export", sep="\t" if "\t" in header else ",", skiprows=skip,
                   encoding="utf-8-sig")
    df = df.loc[:, ~(df.columns.str.startswith("Unnamed:") & df.isna().all().to_numpy())]  # trailing separators
    if missing := [c for c in ("EventSource", "Timestamp", *_FACET_BOX) if c not in df.columns]:
        raise InputError(f"{path} is not an iMotions FACET export: it has no {missing[0]!r} column")
    facet = df["EventSource"].astype("string").str.contains("FACET", case=False, na=False).to_numpy()
    if not facet.any():
        raise InputError(f"{path} holds no Emotient FACET rows (EventSource); only FACET exports can be read")
    df = df[facet]
    evid = {c: _FACET_AU.fullmatch(c)[1] for c in df.columns if _FACET_AU.fullmatch(c)}
    expr = {f"{k} Evidence": v for k, v in _FACET_EXPR.items() if f"{k} Evidence" in df.columns}
    pose = {k: v for k, v in _FACET_POSE.items() if k in df.columns}
    nfaces = ["NoOfFaces"] if "NoOfFaces" in df.columns else []
    num = numbers(df, ["Timestamp", *nfaces, *_FACET_BOX, *pose, *evid, *expr], path)
    x, y, w, h = (num[c].to_numpy() for c in _FACET_BOX)
    measured = {"bbox_x1": x, "bbox_y1": y, "bbox_x2": x + w, "bbox_y2": y + h}
    measured.update({new: num[old] for old, new in pose.items()})
    measured.update({_au_name(au, "p"): _evidence_probability(num[c]) for c, au in evid.items()})
    measured.update(_expressions(expr, lambda c: _evidence_probability(num[c])))
    has_face = (num["NoOfFaces"] > 0).to_numpy() if nfaces else num["FaceRect X"].notna().to_numpy()
    used = {*_FACET_BOX, *pose, "Timestamp"}  # (the raw Evidence columns stay, see above)
    return _table(path, "iMotions (Emotient FACET)", frame=np.arange(len(df)),
                  timestamp_s=num["Timestamp"].to_numpy() / 1000.0, face_id=np.zeros(len(df)),
                  has_face=has_face, measured=measured, rest=df[[c for c in df.columns if c not in used]],
                  meta={"imotions": info})


# Affectiva -----------------------------------------------------------------------------------------
_AFFECTIVA_EXPR = {"joy": "happy", "anger": "angry", "disgust": "disgust", "fear": "fear",
                   "sadness": "sad", "surprise": "surprise"}
_AFFECTIVA_POSE = {"pitch": "pose_pitch_deg", "yaw": "pose_yaw_deg", "roll": "pose_roll_deg"}
# Affdex's expression classifiers and the AU each is named after (smile is a whole-face smile
# classifier, close to but not the same as AU12).
AFFECTIVA_AU = {"innerBrowRaise": "AU01", "browRaise": "AU02", "browFurrow": "AU04", "eyeWiden": "AU05",
                "cheekRaise": "AU06", "lidTighten": "AU07", "noseWrinkle": "AU09", "upperLipRaise": "AU10",
                "smile": "AU12", "dimpler": "AU14", "lipCornerDepressor": "AU15", "chinRaise": "AU17",
                "lipPucker": "AU18", "lipStretch": "AU20", "lipPress": "AU24", "mouthOpen": "AU25",
                "jawDrop": "AU26", "lipSuck": "AU28", "eyeClosure": "AU43"}


def _json_records(path: Path) -> list[dict]:
    """One JSON object, a list of objects, or JSON Lines (one object per frame)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} cannot be read as text ({exc})") from None
    if not text.strip():
        raise InputError(f"{path} is empty: expected Affectiva JSON")
    try:
        data = json.loads(text)
        records = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON or JSON Lines ({exc})") from None
    if not all(isinstance(r, dict) for r in records):
        raise InputError(f"{path} is not Affectiva output: expected one JSON object per frame")
    return records


def read_affectiva_json(path: str | Path) -> FaceTable:
    """Affectiva (Affdex) results as a FaceTable: the JSON that cosanlab's affectiva-api-app writes (one
    object, or one per line per frame, with flat keys) or nested Affdex objects (``emotions``,
    ``expressions``, ``measurements.orientation``), read by the last part of each key.

    Mapped: the emotions ``joy, anger, disgust, fear, sadness, surprise`` (Affdex: likelihood 0-100, each
    emotion scored on its own so they do not sum to 100)→``expr_happy ... expr_surprise`` divided by 100;
    ``pitch/yaw/roll`` (Affdex head orientation, degrees)→``pose_*_deg``; ``Timestamp`` (seconds in
    Affdex's SDKs)→``timestamp_s``. ``frame`` is the object's position in the file; ``face_id`` is 0 for an
    object with any emotion or expression score, else the row is a "no face" row.

    Not mapped: the 20 facial-expression scores (``innerBrowRaise``, ``smile``, ...) are 0-100 scores
    whose meaning (probability or degree) Affectiva does not define, so they keep their names; the AU
    each is named after is in the metadata under ``au_equivalents`` (see :data:`AFFECTIVA_AU`). Affdex's
    ``valence`` (-100..100, computed from the expressions) is not pyfacs's ``valence`` and is kept as
    ``affectiva_valence``; ``contempt``, ``engagement``, ``attention``, ``smirk``, ``FileName`` and
    everything else keep their names.
    """
    path = existing_file(path)
    df = pd.json_normalize(_json_records(path))
    leaf = {c: c.rsplit(".", 1)[-1] for c in df.columns}
    emo = {c: _AFFECTIVA_EXPR[v] for c, v in leaf.items() if v in _AFFECTIVA_EXPR}
    aus = [c for c, v in leaf.items() if v in AFFECTIVA_AU]
    if not emo and not aus:
        raise InputError(f"{path} is not Affectiva output: no emotion (joy, anger, ...) or expression "
                         f"(smile, browRaise, ...) scores")
    pose = {c: _AFFECTIVA_POSE[v] for c, v in leaf.items() if v in _AFFECTIVA_POSE}
    times = [c for c, v in leaf.items() if v.lower() == "timestamp"][:1]
    num = numbers(df, [*emo, *aus, *pose, *times], path)
    n = len(df)
    measured = {new: num[old] for old, new in pose.items()}
    measured.update(_expressions(emo, lambda c: num[c].to_numpy() / 100.0))
    rest = df[[c for c in df.columns if c not in {*emo, *pose, *times}]]
    rest = rest.rename(columns={c: "affectiva_valence" for c in rest.columns if leaf[c] == "valence"})
    return _table(path, "Affectiva", frame=np.arange(n),
                  timestamp_s=num[times[0]].to_numpy() if times else np.full(n, np.nan),
                  face_id=np.zeros(n), has_face=num[[*emo, *aus]].notna().any(axis=1).to_numpy(),
                  measured=measured, rest=rest,
                  meta={"au_equivalents": {c: AFFECTIVA_AU[leaf[c]] for c in aus}})


# any of them ---------------------------------------------------------------------------------------
def _head(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 16)
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({exc.strerror})") from None
    if not raw.strip():
        raise InputError(f"{path} is empty: expected {FORMATS}")
    return raw.decode("utf-8-sig", errors="replace")


def sniff_format(path: str | Path) -> str:
    """Which tool wrote ``path``, from its content: ``"openface"``, ``"pyfeat"``, ``"imotions"``,
    ``"affectiva"`` or ``"pyfacs"``; an InputError naming the formats for anything else."""
    path = existing_file(path)
    if path.suffix.lower() == ".parquet":
        return "pyfacs"
    text = _head(path)
    lines = [ln for ln in text.splitlines() if ln.strip(" \t\r")]
    first = lines[0].lstrip()
    if first.startswith(("{", "[")):  # JSON: pyfacs's JSONL rows carry its identity columns
        return "pyfacs" if '"timestamp_s"' in first and '"face_id"' in first else "affectiva"
    header = next((ln for ln in lines if not ln.lstrip().startswith("#")), "")
    if "\t" in header and "EventSource" in header:
        return "imotions"
    cols = {c.strip() for c in header.split(",")}
    if "FaceRectX" in cols:
        return "pyfeat"
    if {"source", "frame", "timestamp_s", "face_id"} <= cols:
        return "pyfacs"
    if {"frame", "timestamp", "success"} <= cols or {"face", "confidence"} <= cols:
        return "openface"  # (one without landmarks then gets read_openface_csv's hint on what to export)
    raise InputError(f"{path} is not a format pyfacs can read: expected {FORMATS}")


READERS: dict[str, Callable[[Path], FaceTable]] = {
    "openface": read_openface_csv, "pyfeat": read_pyfeat_csv, "imotions": read_imotions,
    "affectiva": read_affectiva_json, "pyfacs": FaceTable.read,
}


def read_table(path: str | Path) -> FaceTable:
    """Any result file pyfacs can read (see :data:`FORMATS`), told apart by its content."""
    return READERS[sniff_format(path)](Path(path))


def read_landmarks(path: str | Path) -> FaceTable:
    """A result file that carries 68-point landmarks (an OpenFace 2 or py-feat CSV, or a pyfacs table
    with landmarks), for using another tool's faces (``--landmarks-from``). Same table as
    :func:`read_table`; an InputError when the file has no 68-point landmarks."""
    table = read_table(path)
    if "lmk68_x_0" not in table.data.columns:
        tool = table.metadata.get("source_tool", "this file")
        raise InputError(f"{path} ({tool}) has no 68-point landmarks: give an OpenFace 2 CSV (FeatureExtraction "
                         f"-2Dfp), a py-feat CSV or a pyfacs table written with landmarks")
    return table
