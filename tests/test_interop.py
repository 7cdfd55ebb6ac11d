"""Readers for other tools' files. Expected values come from the files themselves, read here with the
csv/json modules (not the code under test); generated files cover failed frames and malformed input."""
import csv
import json
import math

import numpy as np
import pytest

from conftest import shared_path
from pyfacs.data.fer2013 import LABELS
from pyfacs.errors import InputError
from pyfacs.io.interop import (read_affectiva_json, read_imotions, read_landmarks, read_openface_csv,
                               read_pyfeat_csv, read_table, sniff_format)


def _sample(name):
    return shared_path("interop", "pyfeat_tests", name)


def _rows(path, *, sep=",", skip=0):
    """The file's data rows as dicts keyed by stripped column names."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        lines = f.read().splitlines()[skip:]
    reader = csv.reader(lines, delimiter=sep)
    header = [h.strip() for h in next(reader)]
    return [dict(zip(header, (v.strip() for v in r))) for r in reader]


def _one_line_error(fn, path, *words):
    with pytest.raises(InputError) as e:
        fn(path)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg
    return msg


# OpenFace ------------------------------------------------------------------------------------------
@pytest.mark.data
def test_openface_reference_csv_maps_to_pyfacs_columns():
    t = read_openface_csv(shared_path("reference", "openface-2.2.0", "dynamic", "2015-10-15-15-14.csv"))
    d = t.data
    assert len(d) == 842 and d["frame"].iloc[0] == 0 and d["timestamp_s"].iloc[1] == 0.033
    assert t.landmarks_array.shape == (842, 68, 2)
    assert d["pose_yaw_deg"].abs().max() < 90 and "AU12_r" in d and "p_scale" in d


@pytest.mark.data
def test_pyfeat_openface_csv_values_match_the_file():
    path = _sample("OpenFace_Test.csv")
    raw = _rows(path)
    d = read_openface_csv(path).data
    assert len(d) == len(raw) == 100
    for i in (0, 57):
        r = raw[i]
        assert d["frame"][i] == int(r["frame"]) - 1 and d["timestamp_s"][i] == float(r["timestamp"])
        assert d["face_score"][i] == pytest.approx(float(r["confidence"]), abs=1e-6)
        assert d["lmk68_x_30"][i] == pytest.approx(float(r["x_30"]), abs=1e-3)
        assert d["lmk68_y_8"][i] == pytest.approx(float(r["y_8"]), abs=1e-3)
        assert d["pose_pitch_deg"][i] == pytest.approx(math.degrees(float(r["pose_Rx"])), abs=1e-3)
        assert d["AU12_r"][i] == pytest.approx(float(r["AU12_r"]), abs=1e-6)
        assert d["gaze_0_x"][i] == pytest.approx(float(r["gaze_0_x"]))
        xs = [float(r[f"x_{k}"]) for k in range(68)]
        assert d["bbox_x1"][i] == pytest.approx(min(xs), abs=1e-3)
        assert d["bbox_x2"][i] == pytest.approx(max(xs), abs=1e-3)


def _openface_csv(path, rows, *, image=False):
    """A small OpenFace-style CSV (', ' separators as OpenFace writes them)."""
    ids = ["face", "confidence"] if image else ["frame", "face_id", "timestamp", "confidence", "success"]
    cols = ids + ["gaze_0_x", "pose_Rx", "pose_Ry", "pose_Rz"] + [f"x_{i}" for i in range(68)] + \
        [f"y_{i}" for i in range(68)] + ["AU12_r", "AU12_c", "p_scale"]
    lines = [", ".join(cols)] + [", ".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _face_values(seed):
    """gaze, pose (rad), 68 x, 68 y, AU12_r, AU12_c, p_scale of a plausible face."""
    rng = np.random.default_rng(seed)
    xs, ys = rng.uniform(100, 200, 68).round(1), rng.uniform(50, 150, 68).round(1)
    return [0.1, 0.2, -0.1, 0.05, *xs, *ys, 2.5, 1, 0.9]


def test_openface_failed_frames_become_no_face_rows(tmp_path):
    zeros = [0] * (4 + 136 + 3)  # what OpenFace writes for every value of a failed frame
    rows = [[1, 0, 0.0, 0.98, 1, *_face_values(1)], [2, 0, 0.04, 0.0, 0, *zeros],
            [3, 0, 0.08, 0.97, 1, *_face_values(2)]]
    t = read_openface_csv(_openface_csv(tmp_path / "of.csv", rows))
    d = t.data
    assert d["frame"].tolist() == [0, 1, 2] and d["timestamp_s"].tolist() == [0.0, 0.04, 0.08]
    assert d["face_id"].isna().tolist() == [False, True, False] and d["success"].tolist() == [1, 0, 1]
    measured = [c for c in d.columns if c not in ("source", "frame", "timestamp_s", "face_id", "success")]
    assert {"face_score", "bbox_x1", "lmk68_x_0", "pose_yaw_deg", "AU12_r", "AU12_c", "gaze_0_x",
            "p_scale"} <= set(measured)
    assert d.loc[1, measured].isna().all()
    assert d.loc[[0, 2], measured].notna().all().all()
    # the failed frame's zeros are not averaged in
    assert d["AU12_r"].mean() == pytest.approx(2.5) and d["AU12_c"].mean() == pytest.approx(1.0)
    assert t.summary()["frames"].tolist() == [2]


def test_openface_facelandmarkimg_csv(tmp_path):
    rows = [[0, 0.95, *_face_values(3)], [1, 0.9, *_face_values(4)]]
    path = _openface_csv(tmp_path / "img.csv", rows, image=True)
    d = read_openface_csv(path).data
    assert d["frame"].tolist() == [0, 0] and d["timestamp_s"].tolist() == [0.0, 0.0]
    assert d["face_id"].tolist() == [0, 1] and d["face_score"].tolist() == pytest.approx([0.95, 0.9])
    assert d["lmk68_x_3"][1] == pytest.approx(rows[1][2 + 4 + 3], abs=1e-3)
    assert sniff_format(path) == "openface" and read_landmarks(path).landmarks_array.shape == (2, 68, 2)


@pytest.mark.parametrize("column, value, words", [
    ("x_5", "abc", ["'x_5'", "'abc'", "not a number", "data row 2"]),
    ("timestamp", "n/a?", ["'timestamp'", "not a number", "data row 2"]),
    ("frame", "2.5", ["'frame'", "whole numbers", "data row 2"]),
    ("frame", "", ["'frame'", "whole numbers", "data row 2"]),
])
def test_openface_malformed_cells_raise_input_error(tmp_path, column, value, words):
    rows = [[1, 0, 0.0, 0.98, 1, *_face_values(1)], [2, 0, 0.04, 0.97, 1, *_face_values(2)]]
    path = _openface_csv(tmp_path / "of.csv", rows)
    lines = path.read_text().splitlines()
    header = [c.strip() for c in lines[0].split(",")]
    cells = lines[2].split(", ")
    cells[header.index(column)] = value
    lines[2] = ", ".join(cells)
    path.write_text("\n".join(lines) + "\n")
    _one_line_error(read_openface_csv, path, str(path), *words)


def test_openface_unreadable_inputs_raise_input_error(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_line_error(read_openface_csv, empty, "empty")
    header_only = tmp_path / "header.csv"
    header_only.write_text("frame, timestamp\n1, 0.0\n")
    _one_line_error(read_openface_csv, header_only, "not an OpenFace 2 CSV", "x_0")
    _one_line_error(read_openface_csv, tmp_path, "is a folder")
    _one_line_error(read_openface_csv, tmp_path / "missing.csv", "does not exist")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text('frame, timestamp\n1, "0.0\n')  # an unterminated quote: pandas's ParserError
    _one_line_error(read_openface_csv, ragged, str(ragged))


# py-feat -------------------------------------------------------------------------------------------
_PYFEAT_EXPR = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
                "sadness": "sad", "surprise": "surprise", "neutral": "neutral"}


@pytest.mark.parametrize("name, n", [("Feat_Test.csv", 1), ("001.csv", 40), ("002.csv", 28)])
@pytest.mark.data
def test_pyfeat_csv_values_match_the_file(name, n):
    path = _sample(name)
    raw = _rows(path)
    t = read_pyfeat_csv(path)
    d = t.data
    assert len(d) == len(raw) == n and t.metadata["source_tool"] == "py-feat"
    assert d["frame"].tolist() == [int(r["frame"]) for r in raw] and d["face_id"].tolist() == [0] * n
    assert d["timestamp_s"].isna().all()  # py-feat writes no times
    i = n - 1
    r = {k: (float(v) if k != "input" else v) for k, v in raw[i].items()}
    assert d["bbox_x1"][i] == pytest.approx(r["FaceRectX"], abs=1e-3)
    assert d["bbox_y2"][i] == pytest.approx(r["FaceRectY"] + r["FaceRectHeight"], abs=1e-3)
    assert d["face_score"][i] == pytest.approx(r["FaceScore"], abs=1e-6)
    assert d["lmk68_x_0"][i] == pytest.approx(r["x_0"], abs=1e-3)
    assert d["lmk68_y_67"][i] == pytest.approx(r["y_67"], abs=1e-3)
    for tool, ours in (("Pitch", "pitch"), ("Yaw", "yaw"), ("Roll", "roll")):
        assert d[f"pose_{ours}_deg"][i] == pytest.approx(r[tool], abs=1e-4)
    aus = sorted(k for k in r if k.startswith("AU"))
    assert sorted(c for c in d.columns if c.startswith("AU")) == [f"{a}_p" for a in aus]
    for a in aus:
        assert d[f"{a}_p"][i] == pytest.approx(r[a], abs=1e-6)
    assert [c[5:] for c in t.expressions.columns] == list(LABELS)
    for theirs, ours in _PYFEAT_EXPR.items():
        assert d[f"expr_{ours}"][i] == pytest.approx(r[theirs], abs=1e-6)
    assert d["input"][i] == r["input"]


@pytest.mark.data
def test_pyfeat_svm_style_columns_read_as_probabilities_0_or_1():
    raw = _rows(_sample("001.csv"))
    d = read_pyfeat_csv(_sample("001.csv")).data
    assert {r["AU07"] for r in raw} <= {"0.0", "1.0"}  # (a hard decision in the file itself)
    assert set(d["AU07_p"].unique()) <= {0.0, 1.0} and d["AU12_p"].between(0, 1).all()
    assert d[[f"expr_{x}" for x in LABELS]].sum(axis=1).to_numpy() == pytest.approx(np.ones(40), abs=1e-5)


def test_pyfeat_no_face_rows_and_several_faces(tmp_path):
    path = tmp_path / "fex.csv"
    path.write_text("frame,FaceRectX,FaceRectY,FaceRectWidth,FaceRectHeight,FaceScore,AU12,happiness,input\n"
                    "0,10,20,30,40,0.9,0.8,0.7,a.mp4\n0,100,20,30,40,0.8,0.1,0.2,a.mp4\n1,,,,,,,,a.mp4\n")
    d = read_pyfeat_csv(path).data
    assert d["face_id"].tolist()[:2] == [0, 1] and d["face_id"].isna().tolist() == [False, False, True]
    assert d["bbox_x2"].tolist()[:2] == [40, 130] and np.isnan(d.loc[2, "AU12_p"])
    assert "lmk68_x_0" not in d and sniff_format(path) == "pyfeat"
    _one_line_error(read_landmarks, path, "no 68-point landmarks")


def test_pyfeat_au_values_outside_0_1_keep_their_names(tmp_path):
    path = tmp_path / "fex.csv"
    path.write_text("frame,FaceRectX,FaceRectY,FaceRectWidth,FaceRectHeight,AU01,AU12\n0,1,2,3,4,0.2,2.7\n")
    d = read_pyfeat_csv(path).data
    assert d["AU12"][0] == 2.7 and not any(c.endswith("_p") for c in d.columns)


def test_pyfeat_malformed_inputs_raise_input_error(tmp_path):
    path = tmp_path / "fex.csv"
    path.write_text("frame,FaceRectX,FaceRectY,FaceRectWidth,FaceRectHeight\n0,1,2,three,4\n")
    _one_line_error(read_pyfeat_csv, path, "'FaceRectWidth'", "'three'")
    path.write_text("frame,FaceRectX,FaceRectY\n0,1,2\n")
    _one_line_error(read_pyfeat_csv, path, "not a py-feat CSV", "FaceRectWidth")


# iMotions ------------------------------------------------------------------------------------------
def _imotions_rows(path):
    with open(path, encoding="utf-8-sig") as f:
        skip = next(i for i, line in enumerate(f) if line.strip(" \t\r\n") and not line.startswith("#"))
    return _rows(path, sep="\t", skip=skip)


def _p(evidence):
    return 1 / (1 + 10 ** -float(evidence))


@pytest.mark.data
def test_imotions_v6_values_match_the_file():
    path = _sample("iMotions_Test_v6.txt")
    raw = _imotions_rows(path)
    t = read_imotions(path)
    d = t.data
    assert len(d) == len(raw) == 519 and t.metadata["imotions"]["Version"] == "6.1.2667.3"
    assert d["frame"].tolist() == [int(r["FrameNo"]) for r in raw]  # (one stimulus: FrameNo counts the same)
    no_face = [int(r["NoOfFaces"]) <= 0 for r in raw]
    assert sum(no_face) > 0 and d["face_id"].isna().tolist() == no_face
    i = 4
    r = raw[i]
    assert d["timestamp_s"][i] == float(r["Timestamp"]) / 1000
    assert d["bbox_x1"][i] == float(r["FaceRect X"])
    assert d["bbox_x2"][i] == float(r["FaceRect X"]) + float(r["FaceRect Width"])
    assert d["pose_yaw_deg"][i] == pytest.approx(float(r["Yaw Degrees"]), abs=1e-4)
    assert d["AU12_p"][i] == pytest.approx(_p(r["AU12 Evidence"]), abs=1e-6)
    assert d["expr_happy"][i] == pytest.approx(_p(r["Joy Evidence"]), abs=1e-6)
    assert d["expr_neutral"][i] == pytest.approx(_p(r["Neutral Evidence"]), abs=1e-6)
    assert d["AU12 Evidence"][i] == float(r["AU12 Evidence"]) and "Contempt Evidence" in d  # raw values stay
    assert set(t.expressions.columns) == {f"expr_{x}" for x in LABELS}
    j = no_face.index(True)
    assert d.loc[j, ["bbox_x1", "AU01_p", "expr_happy", "pose_roll_deg"]].isna().all()


@pytest.mark.data
def test_imotions_v5_keeps_only_facet_rows():
    path = _sample("iMotions_Test_v5.txt")
    raw = [r for r in _imotions_rows(path) if "FACET" in r["EventSource"]]  # ET rows repeat old FACET values
    t = read_imotions(path)
    d = t.data
    assert len(d) == len(raw) and 0 < len(raw) < len(_imotions_rows(path))
    assert d["frame"].tolist() == list(range(len(raw))) and d["timestamp_s"].is_monotonic_increasing
    assert d["face_id"].isna().tolist() == [float(r["NoOfFaces"]) <= 0 for r in raw]
    assert d["FrameNo"].tolist() == [float(r["FrameNo"]) for r in raw]  # iMotions's own counter kept
    assert d["AU1 Evidence"][0] == float(raw[0]["AU1 Evidence"])
    assert d["AU01_p"][0] == pytest.approx(_p(raw[0]["AU1 Evidence"]), abs=1e-6)
    assert d["pose_pitch_deg"][0] == pytest.approx(float(raw[0]["Pitch Degrees"]), abs=1e-4)
    assert t.metadata["imotions"]["Version"] == "5.7.2375.0"


def test_imotions_without_facet_rows_raises(tmp_path):
    path = tmp_path / "et.txt"
    path.write_text("#Study : x\t\t\n\t\t\nStudyName\tEventSource\tTimestamp\tFaceRect X\tFaceRect Y\tFaceRect Width\t"
                    "FaceRect Height\ns\tET\t5\t\t\t\t\n")
    assert sniff_format(path) == "imotions"
    _one_line_error(read_imotions, path, "no Emotient FACET rows")


# Affectiva -----------------------------------------------------------------------------------------
@pytest.mark.data
def test_affectiva_sample_values_match_the_file():
    path = _sample("sample_affectiva-api-app_output.json")
    raw = json.loads(path.read_text())
    t = read_affectiva_json(path)
    d = t.data
    assert len(d) == 1 and d["face_id"][0] == 0 and d["frame"][0] == 0 and d["timestamp_s"][0] == raw["Timestamp"]
    for theirs, ours in (("joy", "happy"), ("anger", "angry"), ("sadness", "sad"), ("surprise", "surprise"),
                         ("fear", "fear"), ("disgust", "disgust")):
        assert d[f"expr_{ours}"][0] == pytest.approx(raw[theirs] / 100, rel=1e-5)
    assert [c[5:] for c in t.expressions.columns] == [x for x in LABELS if x != "neutral"]
    assert d["smile"][0] == raw["smile"] and d["contempt"][0] == raw["contempt"] and d["FileName"][0] == raw["FileName"]
    assert d["affectiva_valence"][0] == raw["valence"] and "valence" not in d  # not pyfacs's -1..1 valence
    assert t.metadata["au_equivalents"]["innerBrowRaise"] == "AU01" and t.aus.empty


def test_affectiva_json_lines_nested_with_pose_and_no_face(tmp_path):
    frames = [{"Timestamp": 0.0, "emotions": {"joy": 80.0, "anger": 1.0}, "expressions": {"smile": 90.0},
               "measurements": {"orientation": {"pitch": 5.0, "yaw": -10.0, "roll": 2.0}}},
              {"Timestamp": 0.5}]
    path = tmp_path / "affdex.json"
    path.write_text("\n".join(json.dumps(f) for f in frames))
    d = read_affectiva_json(path).data
    assert d["expr_happy"].tolist()[0] == pytest.approx(0.8) and d["pose_yaw_deg"][0] == -10.0
    assert d["face_id"].isna().tolist() == [False, True] and d["timestamp_s"].tolist() == [0.0, 0.5]
    assert np.isnan(d.loc[1, "pose_pitch_deg"]) and sniff_format(path) == "affectiva"


def test_affectiva_malformed_inputs_raise_input_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"joy": 1.0,')
    _one_line_error(read_affectiva_json, path, "not valid JSON")
    path.write_text('{"FileName": "x.jpg"}')
    _one_line_error(read_affectiva_json, path, "not Affectiva output")
    path.write_text('{"joy": "lots"}')
    _one_line_error(read_affectiva_json, path, "'joy'", "not a number")


# dispatcher and landmarks --------------------------------------------------------------------------
@pytest.mark.parametrize("name, kind, tool", [
    ("OpenFace_Test.csv", "openface", "OpenFace 2"), ("Feat_Test.csv", "pyfeat", "py-feat"),
    ("001.csv", "pyfeat", "py-feat"), ("iMotions_Test_v5.txt", "imotions", "iMotions (Emotient FACET)"),
    ("iMotions_Test_v6.txt", "imotions", "iMotions (Emotient FACET)"),
    ("sample_affectiva-api-app_output.json", "affectiva", "Affectiva"),
])
@pytest.mark.data
def test_read_table_dispatches_on_content(name, kind, tool, tmp_path):
    path = _sample(name)
    assert sniff_format(path) == kind
    t = read_table(path)
    assert t.metadata["source_tool"] == tool and len(t) > 0
    assert list(t.data.columns[:4]) == ["source", "frame", "timestamp_s", "face_id"]
    renamed = tmp_path / "no_extension"  # content decides, not the file name
    renamed.write_bytes(path.read_bytes())
    assert sniff_format(renamed) == kind


def test_read_table_reads_tables_pyfacs_wrote(tmp_path):
    fex = tmp_path / "fex.csv"
    fex.write_text("frame,FaceRectX,FaceRectY,FaceRectWidth,FaceRectHeight,AU12\n0,1,2,3,4,0.25\n")
    read_table(fex).to_csv(tmp_path / "ours.csv")
    assert sniff_format(tmp_path / "ours.csv") == "pyfacs"
    back = read_table(tmp_path / "ours.csv").data
    assert back["AU12_p"][0] == 0.25 and back["bbox_x2"][0] == 4


@pytest.mark.data
def test_openface_aus_only_csv_reads_without_landmarks(tmp_path):
    import pandas as pd

    full = pd.read_csv(_sample("OpenFace_Test.csv"), skipinitialspace=True)
    keep = [c for c in ("frame", "face_id", "timestamp", "confidence", "success") if c in full]
    keep += [c for c in full if c.startswith("AU")]
    path = tmp_path / "aus_only.csv"
    full[keep].to_csv(path, index=False)  # as FeatureExtraction -aus writes it
    t = read_table(path)
    assert not any(c.startswith(("lmk68_", "bbox_")) for c in t.data.columns)
    np.testing.assert_allclose(t.data["AU12_r"].to_numpy(), full["AU12_r"].where(full["success"] != 0), rtol=1e-6)
    _one_line_error(read_landmarks, path, "no 68-point landmarks")


@pytest.mark.data
@pytest.mark.parametrize("name", ["001.csv", "iMotions_Test_v6.txt", "sample_affectiva-api-app_output.json"])
def test_other_tools_tables_saved_by_pyfacs_read_back(name, tmp_path):
    t = read_table(_sample(name))
    for suffix in (".parquet", ".csv", ".jsonl"):
        t.save(tmp_path / f"t{suffix}")
        back = read_table(tmp_path / f"t{suffix}")  # (their text columns, such as the input's name, kept)
        assert len(back) == len(t) and list(back.aus.columns) == list(t.aus.columns)


def test_read_table_refuses_unknown_files(tmp_path):
    unknown = tmp_path / "other.csv"
    unknown.write_text("a,b,c\n1,2,3\n")
    msg = _one_line_error(read_table, unknown, "OpenFace", "py-feat", "iMotions", "Affectiva")
    assert str(unknown) in msg
    binary = tmp_path / "image.png"
    binary.write_bytes(bytes(range(256)) * 4)
    _one_line_error(read_table, binary, "not a format pyfacs can read")
    (tmp_path / "empty.txt").write_text("")
    _one_line_error(read_table, tmp_path / "empty.txt", "empty")
    _one_line_error(read_table, tmp_path, "is a folder")
    _one_line_error(read_landmarks, tmp_path / "missing.csv", "does not exist")


@pytest.mark.parametrize("name", ["OpenFace_Test.csv", "002.csv"])
@pytest.mark.data
def test_read_landmarks_accepts_68_point_files(name):
    raw = _rows(_sample(name))
    t = read_landmarks(_sample(name))
    xy = t.landmarks_array
    assert xy.shape == (len(raw), 68, 2)
    assert xy[1, 36] == pytest.approx([float(raw[1]["x_36"]), float(raw[1]["y_36"])], abs=1e-3)


@pytest.mark.parametrize("name", ["iMotions_Test_v6.txt", "sample_affectiva-api-app_output.json"])
@pytest.mark.data
def test_read_landmarks_refuses_files_without_68_points(name):
    _one_line_error(read_landmarks, _sample(name), "no 68-point landmarks")


def test_landmarks_from_a_pyfeat_csv_are_the_ones_used(tmp_path, face_video):
    """--landmarks-from takes a py-feat CSV: a face's 68 points are the file's, frame by frame."""
    import pyfacs

    ours = pyfacs.analyze(face_video, au_model=None, expression_model=None).faces
    rows = ["frame,FaceRectX,FaceRectY,FaceRectWidth,FaceRectHeight,FaceScore,"
            + ",".join(f"x_{i}" for i in range(68)) + "," + ",".join(f"y_{i}" for i in range(68))]
    for _, r in ours.iterrows():  # moved 5 px right: the output must be the file's points, not a detection
        x1, y1, x2, y2 = (r[f"bbox_{k}"] for k in ("x1", "y1", "x2", "y2"))
        xs = [r[f"lmk68_x_{i}"] + 5 for i in range(68)]
        ys = [r[f"lmk68_y_{i}"] for i in range(68)]
        rows.append(",".join(str(v) for v in [r["frame"], x1 + 5, y1, x2 - x1, y2 - y1, 0.99, *xs, *ys]))
    (tmp_path / "feat.csv").write_text("\n".join(rows) + "\n")
    theirs = pyfacs.analyze(face_video, landmarks_from=tmp_path / "feat.csv", au_model=None,
                            expression_model=None).faces
    assert len(theirs) == len(ours) == 40
    assert np.allclose(theirs["lmk68_x_30"].to_numpy(), ours["lmk68_x_30"].to_numpy() + 5, atol=1e-3)
    assert theirs["pose_yaw_deg"].isna().all()  # the file has no pose: unknown, not 0°


def test_landmarks_from_another_videos_table_is_refused_or_warned(tmp_path, face_video, astronaut, caplog):
    import pyfacs
    from PIL import Image

    Image.fromarray(astronaut).save(tmp_path / "photo.png")
    both = pyfacs.analyze([face_video, tmp_path / "photo.png"], au_model=None, expression_model=None)
    both.save(tmp_path / "both.csv")
    with pytest.raises(InputError, match="holds 2 sources; give the table of this video alone"):
        pyfacs.analyze(face_video, landmarks_from=tmp_path / "both.csv", au_model=None, expression_model=None)
    shifted = both.data[both.data["source"] == str(face_video)].copy()
    shifted[[c for c in shifted.columns if c.startswith(("lmk68_x", "bbox_x"))]] += 2000  # another, wider video's
    pyfacs.FaceTable(shifted).save(tmp_path / "wide.csv")
    pyfacs.analyze(face_video, landmarks_from=tmp_path / "wide.csv", au_model=None, expression_model=None)
    assert "of its faces lie outside" in caplog.text
    short = both.data[(both.data["source"] == str(face_video)) & (both.data["frame"] < 46)]
    pyfacs.FaceTable(short).save(tmp_path / "short.csv")  # 46 of the 50 frames
    caplog.clear()
    pyfacs.analyze(face_video, landmarks_from=tmp_path / "short.csv", au_model=None, expression_model=None)
    assert "covers 46 frames" in caplog.text


@pytest.mark.data
def test_facetable_read_points_to_the_reader_of_other_tools_files(caplog):
    import pyfacs

    with pytest.raises(InputError, match="another tool's results .* pyfacs.io.interop.read_table"):
        pyfacs.FaceTable.read(shared_path("interop", "pyfeat_tests", "OpenFace_Test.csv"))
    assert "line end" not in caplog.text  # (not ours: its last line is not judged)
