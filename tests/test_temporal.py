"""Temporal smoothing: the filters' documented lags, runs per person, gaps restart the filter."""
import numpy as np
import pandas as pd
import pytest

import pyfacs
from pyfacs.table import FaceTable
from pyfacs.temporal.smoothing import lag_frames, smooth_signal


def _delay(y: np.ndarray) -> float:
    """Frames from the step (at 50) to the half-way crossing, relative to the step's own half-way."""
    return float(np.argmax(y >= 0.5) - 50)


@pytest.mark.parametrize("method", ["centered", "causal"])
def test_step_response_lag_is_the_documented_one(method):
    x = np.r_[np.zeros(50), np.ones(50)]
    for window in (3, 5, 9):
        y = smooth_signal(x, window, method)
        assert abs(_delay(y) - lag_frames(window, method)) <= 0.5 + (method == "causal")
        assert y.min() >= 0 and y.max() <= 1  # an average: never overshoots


def test_noise_is_reduced_and_constant_signals_kept():
    rng = np.random.default_rng(0)
    x = 2.0 + rng.normal(0, 1, 500)
    assert smooth_signal(x, 9).std() < 0.45 * x.std()
    assert np.allclose(smooth_signal(np.full(20, 3.0), 5, "causal"), 3.0)
    with pytest.raises(ValueError, match="odd"):
        smooth_signal(x, 4)


def test_table_smoothing_is_per_person_and_restarts_after_gaps():
    frames = list(range(10)) + list(range(20, 30))  # person 0 is gone for frames 10-19
    rows = [{"source": "v", "frame": f, "face_id": 0, "AU12_r": float(f >= 20) * 4} for f in frames]
    rows += [{"source": "v", "frame": f, "face_id": 1, "AU12_r": 1.0} for f in range(30)]
    table = FaceTable(pd.DataFrame(rows), {"schema_version": 1})
    out = table.smoothed(window=5).data
    p0 = out[out.face_id == 0].set_index("frame")["AU12_r"]
    assert (p0.loc[:9] == 0).all() and (p0.loc[20:] == 4).all()  # no leak across the gap
    assert (out[out.face_id == 1]["AU12_r"] == 1.0).all()  # the other person is untouched by person 0
    assert table.data["AU12_r"].equals(pd.DataFrame(rows)["AU12_r"])  # the original is kept


def test_smoothed_presence_and_label_follow_the_smoothed_values():
    """A one-frame blip is smoothed away, and the presence and label columns say so too."""
    happy = [0.1, 0.1, 0.9, 0.1, 0.1]  # a blip of 'happy' in a 'sad' run
    rows = [{"source": "v", "frame": f, "timestamp_s": f / 30, "face_id": 0,
             "AU01_p": p, "AU01_c": float(p >= 0.5),  # a probability and its presence
             "AU12_r": 3 * p, "AU12_c": float(p >= 0.5),  # OpenFace: presence from its own classifier
             "expr_happy": p, "expr_sad": 1 - p, "expr_label": "happy" if p > 0.5 else "sad"}
            for f, p in enumerate(happy)]
    rows.append({"source": "v", "frame": 5, "timestamp_s": 5 / 30, "face_id": pd.NA})  # no face
    out = FaceTable(pd.DataFrame(rows)).smoothed(window=3).data
    faces = out[out.face_id.notna()]
    assert (faces["AU01_c"] == 0).all() and (faces["AU12_c"] == 0).all() and (faces["expr_label"] == "sad").all()
    assert out["AU01_c"].isna().iloc[-1] and pd.isna(out["expr_label"].iloc[-1])  # the empty row stays empty
    named = FaceTable(pd.DataFrame(rows)).smoothed(window=3, columns=["AU12_r", "AU12_c"]).data
    assert set(named["AU12_c"].dropna()) == {0.0}  # a presence column named is voted too, not averaged
    c = [1.0, 0.0, 1.0, 1.0, 0.0]
    openface = [{"source": "a", "frame": f, "face_id": 0, "AU01_r": 2 * c[f], "AU01_c": c[f]} for f in range(5)]
    p = [0.9, 0.1, 0.9, 0.1, 0.1]
    embedded = [{"source": "b", "frame": f, "face_id": 0, "AU01_p": p[f], "AU01_c": float(p[f] >= 0.5)} for f in range(5)]
    both = pd.DataFrame(openface + embedded)  # two heads' tables combined
    out = FaceTable(both).smoothed(window=3).data["AU01_c"].tolist()
    assert out == [1.0, 1.0, 1.0, 1.0, 1.0] + [1.0, 1.0, 0.0, 0.0, 0.0]  # each row by its own kind
    out = FaceTable(both).smoothed(window=3, columns=["AU01_r"]).data["AU01_c"].tolist()
    assert out[5:] == [1.0, 0.0, 1.0, 0.0, 0.0]  # a probability left alone: presence left alone


def test_smoothing_keeps_missing_values_missing_and_takes_any_index():
    x = np.array([0, 0, 1, np.nan, 1, 1, 0, 0])
    for method in ("centered", "causal"):
        y = smooth_signal(x, 3, method)
        assert np.isnan(y[3]) and np.isfinite(np.delete(y, 3)).all()
    rows = pd.DataFrame({"source": "v", "frame": range(6), "face_id": 0, "AU12_r": [0, 0, 3, 0, 0, 0.0]})
    twice = pd.concat([rows, rows.assign(source="w")])  # two tables stacked: the index repeats
    out = FaceTable(twice).smoothed(window=3).data
    assert out.index.equals(twice.index) and out["AU12_r"].tolist() == [0, 1, 1, 1, 0, 0] * 2


def test_smoothing_a_table_from_analyze_keeps_its_float32_columns(face_video, tmp_path):
    table = pyfacs.analyze(face_video, au_model="none")
    table.save(tmp_path / "t.parquet")
    for t in (table, FaceTable.read(tmp_path / "t.parquet")):
        out = t.smoothed(window=5).data
        probs = [c for c in out.columns if c.startswith("expr_") and c != "expr_label"]
        assert probs and (out[probs].dtypes == np.float32).all()
        assert not out[probs].equals(t.data[probs])  # smoothed, not passed through


def test_a_person_who_leaves_and_comes_back_keeps_their_id(tmp_path, astronaut):
    import pyfacs
    from conftest import write_video

    blank = np.full_like(astronaut, 128)
    frames = [np.roll(astronaut, 3 * i, axis=1) for i in range(15)] + [blank] * 20
    frames += [np.roll(astronaut, -3 * i, axis=1) for i in range(15)]
    t = pyfacs.analyze(write_video(tmp_path / "back.mp4", frames), au_model=None, expression_model=None)
    faces = t.faces
    assert set(faces["face_id"]) == {0}
    assert faces["frame"].min() == 0 and faces["frame"].max() == 49 and len(faces) == 30


def test_identity_tracker_merges_a_returning_person_and_keeps_two_people_apart():
    from pyfacs.face.track import IdentityTracker

    tracker = IdentityTracker(settle_frames=3)
    rng = np.random.default_rng(0)
    looks = {p: rng.random(1116 + 144) - 0.5 for p in "ab"}  # descriptors of two people

    class F:  # a face as the finder gives it
        def __init__(self, track, x):
            self.face_id, self.box = track, np.array([x, 0.0, x + 50, 50])

    import pyfacs.face.track as track_module

    seq = [[("a", 0, 0), ("b", 1, 300)]] * 5 + [[("b", 1, 300)]] * 5 + [[("a", 7, 150), ("b", 1, 300)]] * 5
    ids = []
    original = track_module.appearance
    try:
        for i, frame in enumerate(seq):
            faces = [F(track, x) for _, track, x in frame]
            who = {track: p for p, track, _ in frame}
            track_module.appearance = lambda rgb, f: looks[who[f.face_id]] + rng.normal(0, 0.01, 1260)
            tracker._mean, tracker._seen = np.zeros(1260), 10**9  # the running mean stays ~0
            out = tracker(None, faces, i)
            ids.append({p: tracker.final_id(f.face_id) for (p, _, _), f in zip(frame, out)})
    finally:
        track_module.appearance = original
    assert ids[0] == {"a": 0, "b": 1}
    assert ids[-1] == {"a": 0, "b": 1}  # a came back on a new track (7), far away: the same person


def test_sequence_head_in_analyze(face_video):
    import pyfacs
    from pyfacs.export.onnx import read_metadata
    from pyfacs.models import get_model
    from pyfacs.models.hub import resolve_one

    spec = get_model("ausequence.openface-clip")
    meta = read_metadata(resolve_one(spec))
    assert meta["labels"] == list(spec.labels) and meta["window"] == spec.extra["window"] == 3
    t = pyfacs.analyze(face_video, au_model="ausequence.openface-clip", expression_model=None)
    faces = t.faces
    p = faces[[f"{a}_p" for a in spec.labels]].to_numpy()
    c = faces[[f"{a}_c" for a in spec.labels]].to_numpy()
    assert len(faces) == 40 and np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert ((p >= 0.5) == (c == 1)).all()
    assert t.metadata["au_model"]["name"] == "ausequence.openface-clip"
    frame_model = get_model("audetnet.ckplus").files[0]  # what each frame went through is recorded too
    assert t.metadata["au_model"]["sha256"][frame_model.path] == frame_model.sha256


def test_sequence_windows_do_not_span_frames_where_the_face_was_absent(monkeypatch):
    from pyfacs.au.heads import SequenceAUHead
    from pyfacs.temporal import tokens

    head = SequenceAUHead()
    d = head._session.get_inputs()[0].shape[-1]
    feats = np.random.default_rng(0).normal(size=(10, d)).astype(np.float32)
    monkeypatch.setattr(tokens, "frame_features", lambda model, rgb, lmk: feats[int(rgb[0, 0, 0])])

    def run(frames, step=1):  # each frame's (fake) image names its features
        head.begin(video=True, step=step)
        for row, (frame, k) in enumerate(frames):
            head.add(row, 0, np.full((2, 2, 3), k, np.uint8), None, frame=frame)
        return head.finish()

    gapped = run([(f, k) for k, f in enumerate([0, 1, 2, 3, 4, 30, 31, 32, 33, 34])])  # away for 25 frames
    first, second = run([(f, k) for k, f in enumerate(range(5))]), run([(f, k + 5) for k, f in enumerate(range(5))])
    for row in range(5):
        assert np.allclose(gapped[row], first[row], atol=1e-6) and np.allclose(gapped[row + 5], second[row], atol=1e-6)
    joined = run([(f, k) for k, f in enumerate(range(10))])
    assert not np.allclose(joined[4], first[4], atol=1e-6)  # (without the gap, frame 4's window differs)
    every2 = run([(2 * f, k) for k, f in enumerate(range(10))], step=2)  # --every 2: a step of 2 is no gap
    assert all(np.allclose(every2[r], joined[r], atol=1e-6) for r in range(10))
    halves = run([(2 * f, k) for k, f in enumerate(range(10))])  # every frame analysed, the face in every 2nd
    assert all(np.allclose(halves[r], run([(0, r)])[0], atol=1e-6) for r in range(10))  # each its own run


def test_training_windows_are_cut_as_analyze_cuts_them():
    from pyfacs.temporal.tokens import windows, windows_within_runs

    x = np.arange(8, dtype=np.float32)[:, None]
    present = np.array([1, 1, 1, 0, 0, 1, 1, 1], bool)  # the face away for frames 3-4
    w = windows_within_runs(x, present, 3)
    assert w[2, :, 0].tolist() == [1, 2, 2] and w[5, :, 0].tolist() == [5, 5, 6]  # edges repeated at the gap
    assert (w[present] == np.concatenate([windows(x[:3], 3), windows(x[5:], 3)])).all()


def test_the_sequence_head_runs_without_pytorch(face_video, tmp_path):
    """A plain install (no train extra) runs the AU sequence model: it is ONNX, its tokens NumPy."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
            "import pyfacs\n"
            f"t = pyfacs.analyze({str(face_video)!r}, au_model='ausequence.openface-clip', expression_model=None)\n"
            "print(len(t.faces))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.split()[-1] == "40", res.stderr[-2000:]


def _table_to_save() -> FaceTable:
    rows = [{"source": "cam", "frame": f, "timestamp_s": 1.7e9 + f / 29.97, "face_id": 0,
             "AU12_r": float(1 + f % 2), "AU12_c": float(f != 2)} for f in range(5)]
    data = pd.DataFrame(rows).astype({"AU12_r": np.float32, "AU12_c": np.float32})
    return FaceTable(data, {"schema_version": 1})


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_table_read_back_from_text_equals_the_original_and_smooths_alike(tmp_path, suffix):
    """JSON had read whole-number AU columns as integers (then smoothed into truncated means) and
    epoch-second times as dates; CSV and JSON both widened float32 and moved times by an ULP."""
    table = _table_to_save()
    table.save(tmp_path / f"t{suffix}")
    back = FaceTable.read(tmp_path / f"t{suffix}")
    assert back.data["timestamp_s"].tolist() == table.data["timestamp_s"].tolist()
    assert back.data["AU12_r"].dtype == np.float32 and back.data["AU12_c"].dtype == np.float32
    assert back.data["AU12_r"].equals(table.data["AU12_r"])
    assert back.smoothed(window=3).data["AU12_r"].equals(table.smoothed(window=3).data["AU12_r"])
    assert back.smoothed(window=3).data["AU12_c"].tolist() == [1, 1, 1, 1, 1]  # a vote, not a truncated mean


def test_smoothing_refuses_what_it_cannot_do_in_one_line():
    table = _table_to_save()
    out = table.smoothed(window=3, columns=["AU12_r", "AU12_c", "AU12_r"]).data  # repeated and voted names
    assert out["AU12_r"].notna().all()
    for kwargs, message in [({"columns": "AU12_r"}, "list of column names"), ({"columns": ["nope"]}, "no column 'nope'"),
                            ({"window": "5"}, "whole number"), ({"window": 4}, "odd"), ({"method": "mean"}, "'centered'"),
                            ({"columns": ["AU12_r", "frame"]}, "'frame' says which frame")]:
        with pytest.raises(pyfacs.errors.InputError, match=message):
            table.smoothed(**kwargs)
    copy = table.smoothed(window=3)
    copy.metadata["smoothing"]["window"] = 99
    copy.metadata["schema_version"] = 2
    assert table.metadata == {"schema_version": 1} and copy != table  # its own metadata; tables compare by identity


def test_a_half_frame_number_in_a_table_file_is_refused(tmp_path):
    (tmp_path / "t.csv").write_text("source,frame,timestamp_s,face_id\nv,1.5,0.0,0\n")
    with pytest.raises(pyfacs.errors.InputError, match="frame 1.5 in data row 1 is not a whole number"):
        FaceTable.read(tmp_path / "t.csv")


def test_plots_ask_which_person_when_a_face_id_is_in_several_sources():
    rows = [{"source": s, "frame": f, "timestamp_s": f / 25, "face_id": 0, "AU12_r": 1.0}
            for s in ("a.mp4", "b.jpg") for f in range(3 if s == "a.mp4" else 1)]
    table = FaceTable(pd.DataFrame(rows))
    with pytest.raises(pyfacs.errors.InputError, match="different person in each of 2 sources; pass source="):
        table.plot_aus(0)
    with pytest.raises(pyfacs.errors.InputError, match="no face_id 7"):
        table.plot_au_map(7)
    assert table.plot_aus(0, source="a.mp4") is not None


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_table_of_a_video_without_faces_read_back_smooths(tmp_path, suffix):
    rows = [{"source": "v.mp4", "frame": f, "timestamp_s": f / 25, "face_id": None, "expr_happy": np.nan,
             "expr_sad": np.nan, "expr_label": None} for f in range(3)]  # (a CSV reads the empty labels as floats)
    FaceTable(pd.DataFrame(rows)).save(tmp_path / f"t{suffix}")
    back = FaceTable.read(tmp_path / f"t{suffix}")
    assert back.data["expr_label"].tolist() == [None] * 3
    assert back.smoothed(window=3).data["expr_label"].tolist() == [None] * 3
