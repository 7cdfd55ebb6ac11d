"""The main job end to end on generated media (no ../shared needed)."""
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import pyfacs
from pyfacs.errors import InputError
from pyfacs.schema import POSE_COLUMNS, lmk68_columns


def _eye_distance(row) -> float:
    return float(np.hypot(row["lmk68_x_45"] - row["lmk68_x_36"], row["lmk68_y_45"] - row["lmk68_y_36"]))


def test_astronaut_has_one_face_with_all_columns(tmp_path, astronaut):
    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    t = pyfacs.analyze(path)
    assert isinstance(t, pyfacs.FaceTable) and len(t) == 1
    row = t.data.iloc[0]
    for c in ["source", "frame", "timestamp_s", "face_id", "face_score", "bbox_x1", "bbox_y2",
              *lmk68_columns(), *POSE_COLUMNS]:
        assert c in t.data.columns
    assert row["face_id"] == 0 and row["face_score"] > 0.9
    # the face of the astronaut photo lies around x 170-260, y 60-180
    assert 150 < row["lmk68_x_30"] < 260 and 60 < row["lmk68_y_30"] < 180
    assert row["lmk68_x_36"] < row["lmk68_x_45"]  # iBUG order: point 36 is on the image left
    assert row["lmk68_y_19"] < row["lmk68_y_37"] < row["lmk68_y_30"] < row["lmk68_y_51"] < row["lmk68_y_8"]
    assert abs(row["pose_roll_deg"]) < 25 and abs(row["pose_pitch_deg"]) < 30


def test_upside_down_face_gets_landmarks_in_the_original_frame(tmp_path, astronaut, analyzer):
    up = analyzer.faces(astronaut, still=True)[0]
    down = analyzer.faces(np.ascontiguousarray(astronaut[::-1, ::-1]), still=True)
    assert len(down) == 1
    h, w = astronaut.shape[:2]
    back = np.stack([w - 1 - down[0].lmk68[:, 0], h - 1 - down[0].lmk68[:, 1]], 1)
    err = np.linalg.norm(back[17:] - up.lmk68[17:], axis=1).mean() / np.linalg.norm(up.lmk68[36] - up.lmk68[45])
    assert err < 0.08
    assert abs(abs(down[0].pose_deg[2]) - 180) < 30  # rolled by half a turn


def test_no_face_frame_still_has_a_row(tmp_path):
    path = tmp_path / "wall.png"
    Image.fromarray(np.full((300, 400, 3), 120, np.uint8)).save(path)
    t = pyfacs.analyze(path)
    assert len(t) == 1 and pd.isna(t.data["face_id"].iloc[0]) and t.data["frame"].iloc[0] == 0


def test_many_faces_and_max_faces(tmp_path, astronaut, analyzer):
    face = astronaut[20:260, 110:330]
    collage = np.full((600, 900, 3), 200, np.uint8)
    for k, (y, x) in enumerate([(20, 20), (20, 330), (320, 20), (320, 330), (180, 640)]):
        collage[y:y + 240, x:x + 220] = face if k % 2 == 0 else face[:, ::-1]
    faces = analyzer.faces(collage, still=True)
    assert len(faces) == 5 and len({f.face_id for f in faces}) == 5
    few = pyfacs.Analyzer(max_faces=2).faces(collage, still=True)
    assert len(few) == 2


@pytest.mark.data
@pytest.mark.parametrize("folder, name, n_faces", [
    ("disfa_minimal", "SN003_112.jpg", 1),  # a close-up: half-face detections used to become 2 more faces
    ("opengraphau", "1014.jpg", 1),  # the same over one cheek
    ("pyfeat", "multi_face.jpg", 5),  # the upside-down pass used to add a 6th, over an upright face
])
def test_a_face_is_one_row_in_a_photo(folder, name, n_faces, analyzer):
    from conftest import shared_path

    rgb = np.asarray(Image.open(shared_path("media", folder, name)).convert("RGB"))
    assert len(analyzer.faces(rgb, still=True)) == n_faces


@pytest.mark.data
def test_a_smaller_face_over_a_larger_ones_chin_is_a_face_of_its_own(analyzer):
    """Its box lies mostly inside the larger face's box, but its features do not: not the larger
    face seen again (which a half-face detection is, in the test above)."""
    from conftest import shared_path

    big = np.asarray(Image.open(shared_path("media", "misc", "angry_man.jpg")).convert("RGB"))
    small = np.asarray(Image.open(shared_path("media", "pyfeat", "single_face.jpg")).convert("RGB"))[130:440, 150:420]
    small = np.asarray(Image.fromarray(small).resize((122, 140)))
    canvas = np.full((760, 760, 3), 128, np.uint8)
    canvas[50:50 + big.shape[0], 50:50 + big.shape[1]] = big
    canvas[450:590, 330:452] = small
    faces = analyzer.faces(canvas, still=True)
    assert len(faces) == 2


@pytest.mark.data
def test_small_faces_in_a_small_video_are_found_as_in_its_stills():
    """mexca's 270×480 clip, four people of ~25 px: the short-range model alone found none."""
    from conftest import shared_path

    video = pyfacs.analyze(shared_path("media", "mexca", "test_video_multi_5_frames.mp4"),
                           au_model=None, expression_model=None).data
    assert (video.groupby("frame")["face_id"].count() >= 2).all()


def test_small_faces_in_a_1080p_frame(astronaut, analyzer):
    import cv2

    canvas = np.full((1080, 1920, 3), 90, np.uint8)
    small = cv2.resize(astronaut, (256, 256))  # face about 60 px wide
    for x in (200, 1400):
        canvas[700:956, x:x + 256] = small
    faces = analyzer.faces(canvas, still=True)
    assert len(faces) == 2
    for f in faces:
        assert 700 < f.box[1] < 956 and f.box[2] - f.box[0] < 150


def test_video_rows_per_frame_and_no_face_frames(face_video, tmp_path):
    out = tmp_path / "v.parquet"
    t = pyfacs.analyze(face_video, output=out)
    assert t.data["frame"].tolist() == list(range(50))
    assert t.data["face_id"].iloc[:40].notna().all() and t.data["face_id"].iloc[40:].isna().all()
    assert t.data["face_id"].iloc[:40].nunique() == 1  # one person followed through the clip
    back = pyfacs.FaceTable.read(out)
    assert back.metadata["schema_version"] == "1" and len(back) == 50
    pd.testing.assert_frame_equal(back.data.reset_index(drop=True), t.data.reset_index(drop=True),
                                  check_dtype=False)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_sources_and_labels_come_back_as_written(tmp_path, suffix):
    """A source named 001, 1e3 or NA (a folder read with --sequence is named as given) stays text."""
    df = pd.DataFrame({"source": ["001", "1e3", "NA", "null"], "frame": [0, 0, 0, 0],
                       "timestamp_s": [0.0] * 4, "face_id": [0, 0, None, 0], "expr_label": ["happy", "NA", None, "sad"]})
    path = tmp_path / f"t{suffix}"
    pyfacs.FaceTable(df).save(path)
    back = pyfacs.FaceTable.read(path).data
    assert back["source"].tolist() == ["001", "1e3", "NA", "null"]
    assert back["expr_label"].tolist() == ["happy", "NA", None, "sad"]
    assert len(pyfacs.FaceTable.read(path).summary()) == 3  # (every source's person counted)


def test_every_nth_frame(face_video):
    t = pyfacs.analyze(face_video, every=5)
    assert t.data["frame"].tolist() == list(range(0, 50, 5))


def test_faces_cropped_uses_the_whole_image(tmp_path, astronaut):
    import cv2

    crop = cv2.cvtColor(cv2.resize(astronaut[30:250, 120:320], (48, 48)), cv2.COLOR_RGB2GRAY)
    path = tmp_path / "fer.png"
    Image.fromarray(crop).save(path)
    t = pyfacs.analyze(path, faces_cropped=True)
    row = t.data.iloc[0]
    assert (row["bbox_x1"], row["bbox_y1"], row["bbox_x2"], row["bbox_y2"]) == (0, 0, 48, 48)
    assert 10 < row["lmk68_x_30"] < 38 and row["lmk68_y_37"] < row["lmk68_y_57"]


def test_478_point_mesh_on_request(tmp_path, astronaut):
    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    t = pyfacs.analyze(path, landmarks=478)
    assert "lmk478_z_477" in t.data.columns
    iris_right = t.data[[f"lmk478_x_{i}" for i in range(468, 473)]].to_numpy()
    eye_right = t.data[["lmk478_x_33", "lmk478_x_133"]].to_numpy()
    assert eye_right.min() < iris_right.mean() < eye_right.max()  # the iris lies inside its eye


def test_bad_options_are_input_errors():
    with pytest.raises(InputError):
        pyfacs.Analyzer(landmarks=100)
    with pytest.raises(InputError):
        pyfacs.Analyzer(max_faces=0)
    with pytest.raises(InputError, match="au-static"):
        pyfacs.Analyzer(au_model=None, au_static=True)
    with pytest.raises(InputError, match="--au-static .* not audetnet.ckplus"):
        pyfacs.Analyzer(au_model="audetnet.ckplus", au_static=True)


def test_summary_per_person():
    data = pd.DataFrame({
        "source": ["v"] * 5, "frame": [0, 0, 1, 1, 2], "timestamp_s": [0.0, 0.0, 0.5, 0.5, 1.0],
        "face_id": pd.array([0, 1, 0, 1, pd.NA], dtype="Int64"),
        "AU12_c": [1.0, 0.0, 0.0, 0.0, np.nan], "AU12_r": [2.0, 0.0, 1.0, 0.0, np.nan],
        "expr_label": ["happy", "neutral", "neutral", "neutral", None],
    })
    s = pyfacs.FaceTable(data).summary().set_index("face_id")
    assert s.loc[0, "frames"] == 2 and s.loc[0, "seconds"] == 0.5
    assert s.loc[0, "AU12_rate"] == 0.5 and s.loc[0, "AU12_mean_r"] == 1.5
    assert s.loc[0, "share_happy"] == 0.5 and s.loc[1, "share_neutral"] == 1.0
    repeated = pd.concat([data.iloc[:2], data.iloc[2:]])  # live frames' tables, numbered from 0 each
    repeated.index = [0, 1, 0, 1, 0]
    assert pyfacs.FaceTable(repeated).summary().equals(pyfacs.FaceTable(data).summary())


def test_embedded_au_values_survive_chunking(face_video, monkeypatch):
    """Rows leave in chunks; a per-face AU head's values must land on the right rows of each chunk."""
    monkeypatch.setattr(pyfacs.Analyzer, "CHUNK_FRAMES", 16)
    t = pyfacs.analyze(face_video, au_model="audetnet.ckplus", expression_model=None)
    faces = t.data[t.data["face_id"].notna()]
    assert len(faces) == 40 and faces["AU12_p"].notna().all()
    assert t.data.loc[t.data["face_id"].isna(), "AU12_p"].isna().all()


def test_images_and_videos_keep_input_order_when_image_rows_are_coalesced(tmp_path, astronaut, face_video,
                                                                          monkeypatch):
    """Images' one-row tables are handed on together; a video in between must not reorder rows."""
    monkeypatch.setattr(pyfacs.Analyzer, "CHUNK_FRAMES", 2)
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"a{k}.png")
        Image.fromarray(astronaut).save(paths[-1])
    chunks = []
    an = pyfacs.Analyzer(au_model=None, expression_model=None)
    an.run([paths[0], paths[1], face_video, paths[2]], on_table=chunks.append)
    sources = pd.concat(chunks)["source"].tolist()
    n_video = sources.count(str(face_video))
    assert sources == [str(paths[0]), str(paths[1])] + [str(face_video)] * n_video + [str(paths[2])]
    assert n_video > 2 and len(chunks[0]) == 2  # the two images went on as one table



def test_values_for_rows_that_never_came_are_dropped():
    """Ctrl-C between a frame's AU input and its rows leaves the head with values for rows that the
    table never got: the rows written so far must still be filled and kept."""
    from pyfacs.pipeline import _fill

    df = pd.DataFrame({"AU01_r": np.zeros(3, np.float32)})
    _fill(df, {10: np.array([1.0]), 12: np.array([2.0]), 13: np.array([9.0])}, ["AU01_r"], offset=10)
    assert df["AU01_r"].tolist() == [1.0, 0.0, 2.0] and len(df) == 3


def test_odd_inputs_of_many_are_reported_and_the_rest_analysed(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((1, 1200, 3), np.uint8)).save(tmp_path / "strip.png")  # 1 px tall
    t = pyfacs.analyze([tmp_path / "strip.png", tmp_path / "a.png"], au_model=None, expression_model=None)
    assert t.data["face_id"].notna().sum() == 1 and len(t) == 2  # the strip: analysed, no face
    from pyfacs.io.media import read_image

    Image.fromarray(np.full((4, 4), 0.8, np.float32), mode="F").save(tmp_path / "g.tif")
    assert read_image(tmp_path / "g.tif")[0, 0, 0] == 204  # floats in [0, 1] are not read as black


def test_api_options_are_checked_before_the_work(tmp_path, astronaut):
    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    for kwargs, needle in [({"output": tmp_path / "o.txt"}, "must end in"),
                           ({"output": tmp_path / "nodir" / "o.csv"}, "does not exist"),
                           ({"max_faces": "2"}, "max_faces .--max-faces. must be a whole number"),
                           ({"every": 2.5}, "every .--every. must be a whole number"),
                           ({"faces_cropped": "no"}, "True or False")]:
        with pytest.raises(InputError, match=needle):
            pyfacs.analyze(path, au_model=None, expression_model=None, **kwargs)
    for bad in (astronaut, Image.fromarray(astronaut)):
        with pytest.raises(InputError, match="Analyzer"):
            pyfacs.analyze(bad)
    out = tmp_path / "o.parquet"  # NumPy scalars are fine, and the metadata is written with them
    t = pyfacs.analyze(path, max_faces=np.int64(1), min_face_score=np.float32(0.6), au_model=None,
                       expression_model=None, output=out)
    assert pyfacs.FaceTable.read(out).metadata["options"] == t.metadata["options"]
    assert t.metadata["options"]["max_faces"] == 1 and t.metadata["options"]["every"] == 1
    faces = pyfacs.Analyzer(au_model=None, expression_model=None).faces(Image.fromarray(astronaut), still=True)
    assert len(faces) == 1  # a PIL image is a frame too


def test_landmarks_array_follows_the_column_names_not_their_order(astronaut, tmp_path):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    t = pyfacs.analyze(tmp_path / "a.png", au_model=None, expression_model=None)
    shuffled = pyfacs.FaceTable(t.data[sorted(t.data.columns)])
    assert np.array_equal(shuffled.landmarks_array, t.landmarks_array)
    assert t.landmarks_array[0, 36, 0] == t.data["lmk68_x_36"].iloc[0]


def test_a_scene_cut_drops_the_followed_faces(astronaut):
    """At a cut the face to follow is gone; following its region would put the old face's box on
    whatever is now there. The mirrored photo is another shot, its face ~50 px away."""
    from pyfacs.face.faces import FaceFinder

    finder = FaceFinder()
    for _ in range(3):
        before = finder(astronaut)
    after = finder(np.ascontiguousarray(astronaut[:, ::-1]))
    assert [f.face_id for f in before] == [0] and [f.face_id for f in after] == [1]  # found afresh
    assert after[0].box[0] > before[0].box[0] + 40  # where the face now is, not where it was
    moved = finder(np.ascontiguousarray(np.roll(astronaut[:, ::-1], 3, axis=1)))  # motion is no cut
    assert [f.face_id for f in moved] == [1]


def test_live_frames_get_every_column_analyze_writes(astronaut, tmp_path):
    session = pyfacs.Analyzer(au_model="audetnet.ckplus")
    rows = [session.frame_table(astronaut, timestamp_s=t) for t in (0.0, 0.04)]
    rows.append(session.frame_table(np.full_like(astronaut, 128)))  # no face: one empty row
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    ref = pyfacs.analyze(tmp_path / "a.png", au_model="audetnet.ckplus").data
    first = rows[0]
    assert list(first.columns) == list(ref.columns) == session.columns
    assert first["frame"].tolist() == [0] and rows[1]["frame"].tolist() == [1] and rows[1]["timestamp_s"][0] == 0.04
    values = [c for c in ref.columns if c.startswith(("AU", "expr_")) and c != "expr_label"]
    assert np.isfinite(first[values].to_numpy(float)).all() and first["expr_label"][0] == ref["expr_label"][0]
    assert np.abs(first[values].to_numpy(float) - ref[values].to_numpy(float)).max() < 0.1  # same face, same heads
    assert len(rows[2]) == 1 and pd.isna(rows[2]["face_id"][0]) and rows[2]["timestamp_s"][0] > 0
    with pytest.raises(InputError, match="needs the frames after"):
        pyfacs.Analyzer(au_model="ausequence.openface-clip", expression_model=None).frame_table(astronaut)


def test_a_folder_of_frames_as_a_sequence_equals_the_video(face_video, tmp_path):
    """OpenFace's -fdir: the video's frames saved losslessly, then read as a sequence, give the
    video's rows (tracking, per-person state and all); only source and times differ."""
    from pyfacs.io.media import iter_frames

    folder = tmp_path / "frames"
    folder.mkdir()
    for f in iter_frames(face_video):
        Image.fromarray(f.rgb).save(folder / f"{f.index + 1}.png")
    options = {"au_model": "ausequence.openface-clip", "expression_model": None}
    video = pyfacs.analyze(face_video, **options).data
    frames = pyfacs.analyze(folder, sequence=True, fps=25, **options)
    assert frames.metadata["options"]["sequence_fps"] == 25
    data = frames.data
    assert (data["source"] == str(folder)).all() and np.allclose(data["timestamp_s"], data["frame"] / 25)
    pd.testing.assert_frame_equal(data.drop(columns=["source", "timestamp_s"]),
                                  video.drop(columns=["source", "timestamp_s"]))
    with pytest.raises(InputError, match="fps"):
        pyfacs.analyze(folder, sequence=True, fps=0)


def test_a_table_cut_mid_row_is_read_with_a_warning(tmp_path, caplog, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    out = tmp_path / "t.csv"
    pyfacs.analyze(tmp_path / "a.png", output=out, au_model=None, expression_model=None)
    pyfacs.FaceTable.read(out)
    assert "cut short" not in caplog.text  # (a whole table: no warning)
    text = out.read_text()
    out.write_text(text[: len(text) - 200])  # a copy stopped mid-write
    pyfacs.FaceTable.read(out)
    assert "its last line has no line end" in caplog.text


def test_live_timestamps_start_at_the_first_live_frame_whatever_came_before(astronaut):
    session = pyfacs.Analyzer(au_model=None, expression_model=None)
    session.faces(astronaut)  # frames fed without timestamps first
    assert session.frame_table(astronaut)["timestamp_s"][0] == 0.0  # not seconds since boot
    assert 0 < session.frame_table(astronaut)["timestamp_s"][0] < 60


def test_live_frames_after_a_run_start_a_stream_of_their_own(face_video):
    from pyfacs.io.media import iter_frames

    session = pyfacs.Analyzer(au_model=None, expression_model=None)
    session.run([face_video], on_table=lambda df: None)
    live = session.frame_table(list(iter_frames(face_video))[0].rgb)
    assert live["frame"][0] == 0 and live["timestamp_s"][0] == 0.0  # not frame 50 of the file's stream


def test_a_still_looked_at_mid_stream_leaves_the_stream_alone(astronaut):
    from pyfacs.face.faces import FaceFinder

    finder = FaceFinder()
    for _ in range(2):
        finder(astronaut)
    assert finder(np.full_like(astronaut, 128), still=True) == []  # a still without the stream's face
    state = ([t.face_id for t in finder._tracks], finder._next_id)
    assert state == ([0], 1)  # the stream's face is still followed, and a new one would be number 1
    assert [f.face_id for f in finder(astronaut)] == [0]


def test_an_analyzer_refuses_a_second_thread(astronaut):
    import threading

    session = pyfacs.Analyzer(au_model=None, expression_model=None)
    caught = []

    def other_thread():
        try:
            session.faces(astronaut)
        except InputError as exc:
            caught.append(str(exc))

    with session._owned():  # as while the first thread is inside a call
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert caught and "its own Analyzer" in caught[0]
    assert len(session.faces(astronaut)) == 1  # free again afterwards
    with session._owned():
        t = threading.Thread(target=lambda: _refused(session.reset, caught))
        t.start()
        t.join()
    assert len(caught) == 2 and "its own Analyzer" in caught[1]  # reset() mid-call mixed two streams' state


def _refused(call, caught):
    try:
        call()
    except InputError as exc:
        caught.append(str(exc))


def test_live_and_api_arguments_are_checked_in_one_line(astronaut, tmp_path, monkeypatch):
    session = pyfacs.Analyzer(au_model=None, expression_model=None)
    for kwargs, message in (({"index": "3"}, "frame number"), ({"index": 2.5}, "frame number"),
                            ({"index": -10}, "frame number"), ({"still": "no"}, "True or False")):
        with pytest.raises(InputError, match=message):
            session.faces(astronaut, **kwargs)
    with pytest.raises(InputError, match="timestamp_s"):
        session.frame_table(astronaut, timestamp_s=True)
    with pytest.raises(InputError, match="landmarks_from .* is a file's path"):
        pyfacs.Analyzer(landmarks_from=3)
    monkeypatch.chdir(tmp_path)
    Image.fromarray(astronaut).save(tmp_path / "here.png")
    with pytest.raises(InputError, match="output must be a file's path"):
        pyfacs.analyze(tmp_path / "here.png", output=3)
    with pytest.raises(InputError, match="an input is empty"):  # not the current folder's images
        pyfacs.analyze("")
    monkeypatch.setenv("HOME", str(tmp_path))
    pyfacs.analyze(tmp_path / "here.png", au_model=None, expression_model=None).save("~/t.csv")
    assert len(pyfacs.FaceTable.read("~/t.csv").data) == 1


def test_a_callback_of_a_run_cannot_feed_the_same_analyzer(tmp_path, astronaut):
    """A live frame from inside run() would reset the run's AU head: refused, the run's file reported."""
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    session = pyfacs.Analyzer(au_model=None, expression_model=None)
    errors = session.run([tmp_path / "a.png"], on_table=lambda df: None,
                         on_frame=lambda frame, faces: session.frame_table(frame.rgb))
    assert len(errors) == 1 and "in the middle of another call" in errors[0].message


def test_a_still_mid_stream_takes_no_frame_number(astronaut):
    session = pyfacs.Analyzer(au_model=None, expression_model=None)
    session.faces(astronaut)
    session.faces(astronaut, still=True)
    with pytest.raises(InputError):
        session.faces(np.zeros((4, 4), np.uint8))  # refused input takes none either
    assert session.frame_table(astronaut)["frame"].tolist() == [1]


def test_off_centre_faces_in_wide_frames_use_openfaces_focal_length():
    """OpenFace's default camera for a W×H frame: fx = fy = (500·W/640 + 500·H/480) / 2. A face
    looking along the camera axis off-centre by dx pixels turns by atan(dx / f) seen from the
    camera; with the focal length of the width alone (1500 px) 1080p frames were off."""
    from pyfacs.face.pose import _LOWER, _SYMMETRIC_PAIRS, head_pose_deg, openface_focal

    assert openface_focal(640, 480) == 500.0 and openface_focal(1920, 1080) == 1312.5
    points = np.zeros((468, 3))
    points[_SYMMETRIC_PAIRS[:, 1], 0] += 30.0  # ear to ear along x, brow to chin along y
    points[_LOWER, 1] += 60.0
    points[:, :2] += [1700.0, 540.0] - points[:, :2].mean(0)  # centred 740 px right of the image centre
    pitch, yaw, roll = head_pose_deg(points, 1920, 1080)
    assert abs(yaw - np.degrees(np.arctan(740 / 1312.5))) < 1e-6 and abs(pitch) < 1e-6 and abs(roll) < 1e-6


def test_paths_of_any_kind_and_tables_without_pose(tmp_path, astronaut):
    from pathlib import PurePosixPath

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    t = pyfacs.analyze(PurePosixPath(tmp_path / "a.png"), au_model=None, expression_model=None)
    assert len(t) == 1
    with pytest.raises(InputError, match="not a bytes"):
        pyfacs.analyze(b"a.png")
    with pytest.raises(InputError, match="no head pose"):
        pyfacs.FaceTable(t.data.drop(columns=POSE_COLUMNS)).pose


def test_frames_without_faces_get_the_full_range_model_every_detect_every_th_frame(monkeypatch):
    from pyfacs.face.faces import FaceFinder

    finder = FaceFinder(detect_every=10)
    calls = []
    full = finder._full()
    monkeypatch.setattr(finder, "_full", lambda: (calls.append(1), full)[1])
    for _ in range(20):
        assert finder(np.full((270, 480, 3), 90, np.uint8)) == []
    assert len(calls) == 2  # frames 0 and 10: small faces far away are still looked for, at a tenth of the cost
    calls.clear()
    finder.reset()
    finder.frame_step = 5  # (analyze --every 5: the same every 10 video frames)
    for _ in range(4):
        finder(np.full((270, 480, 3), 90, np.uint8))
    assert len(calls) == 2


def test_with_every_the_detector_still_looks_every_detect_every_video_frames(tmp_path, astronaut, monkeypatch):
    from conftest import write_video
    from pyfacs.face.faces import FaceFinder

    frames = [np.roll(astronaut, i, axis=1) for i in range(40)] + [np.full_like(astronaut, 128)] * 10
    video = write_video(tmp_path / "slow.mp4", frames)  # (slow: no frame 5 apart looks like a new shot)

    real_find, real_detect = FaceFinder._find, FaceFinder.detect
    looked: list[bool] = []  # per analysed frame: whether the detector ran

    def find(self, rgb, *, still):
        looked.append(False)
        return real_find(self, rgb, still=still)

    def detect(self, rgb, **kwargs):
        looked[-1] = True
        return real_detect(self, rgb, **kwargs)

    monkeypatch.setattr(FaceFinder, "_find", find)
    monkeypatch.setattr(FaceFinder, "detect", detect)
    analyzer = pyfacs.Analyzer(au_model=None, expression_model=None)  # detect_every=10 video frames
    analyzer.run([video], every=5, on_table=lambda df: None)
    # frames 0, 5, ..., 35 show the followed face: looked for others at 0, 10, 20, 30; 40, 45 have no face
    assert looked == [True, False] * 4 + [True, True]
    assert analyzer.finder.frame_step == 1  # (live frames afterwards come one by one)


def test_api_arguments_are_checked_as_the_cli_checks_them(tmp_path, astronaut, caplog):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    with pytest.raises(InputError, match="fps sets the frame rate of a sequence=True folder"):
        pyfacs.analyze(tmp_path / "a.png", fps=25)  # (was ignored without a word)
    session = pyfacs.Analyzer(au_model=None, expression_model=None)
    for bad in (float("nan"), float("inf"), "1.0"):
        with pytest.raises(InputError, match="timestamp_s must be a finite number"):
            session.frame_table(astronaut, timestamp_s=bad)
    assert session.frame_table(astronaut, timestamp_s=2)["timestamp_s"][0] == 2.0
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.fromarray(astronaut).save(frames / "1.png")
    (frames / "clip.mp4").write_bytes(b"")  # a video beside the frames: not a frame, and said so
    assert len(pyfacs.analyze(frames, sequence=True, au_model=None, expression_model=None)) == 1
    assert caplog.text.count("1 video(s) in it are left out (clip.mp4)") == 1


def test_frames_further_apart_need_a_bigger_change_to_count_as_a_cut():
    from pyfacs.face.faces import FaceFinder

    finder = FaceFinder()
    grey = [np.full((64, 64, 3), v, np.uint8) for v in (100, 130, 100, 180)]

    def cuts(step: int) -> list[bool]:
        finder.reset()
        finder.frame_step = step
        return [finder._scene_cut(g) for g in grey]

    assert cuts(1) == [False, True, True, True]  # a change of 30 between neighbouring frames is a new shot
    assert cuts(10) == [False, False, False, True]  # 10 frames apart, within a shot (bar 34); 80 still is one
    assert cuts(30) == [False, False, False, True]


def test_max_faces_takes_a_larger_face_that_arrives_later(tmp_path, astronaut):
    """--max-faces 1 kept the first face it followed: a larger one coming later was never looked for."""
    import cv2

    from conftest import write_video

    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)  # a face ~50 px wide
    frames = []
    for i in range(20):
        frame = np.full((480, 640, 3), 128, np.uint8)
        frame[20:276, 20:276] = small
        if i >= 8:
            frame[160:480, 300:620] = astronaut[0:320, 100:420]  # one ~90 px wide from frame 8 on
        frames.append(frame)
    video = write_video(tmp_path / "arrives.mp4", frames)
    faces = pyfacs.analyze(video, max_faces=1, au_model=None, expression_model=None).faces
    widths = (faces["bbox_x2"] - faces["bbox_x1"]).to_numpy()
    assert len(faces) == 20 and widths[:8].max() < 70 and widths[-5:].min() > 80


def test_head_pose_ignores_the_iris_points(astronaut):
    """--landmarks 478 adds 10 iris points to the mesh: they moved the pose's centre by 0.05°."""
    face = pyfacs.Analyzer(au_model=None, expression_model=None).faces(astronaut, still=True)[0]
    with_iris = pyfacs.Analyzer(au_model=None, expression_model=None, landmarks=478).faces(astronaut, still=True)[0]
    assert with_iris.pose_deg == face.pose_deg


def test_max_faces_keeps_one_of_two_faces_of_a_size_all_along(tmp_path, astronaut):
    """Two faces of about one size under --max-faces 1: the one followed stays (no taking turns)."""
    from conftest import write_video

    face = astronaut[0:320, 100:420]
    frames = []
    for i in range(25):
        frame = np.full((480, 800, 3), 128, np.uint8)
        frame[80:400, 20:340] = face
        frame[80:400, 440:760] = np.roll(face, i % 3, axis=0)  # the same size, a little unsteady
        frames.append(frame)
    faces = pyfacs.analyze(write_video(tmp_path / "two.mp4", frames), max_faces=1, au_model=None,
                           expression_model=None).faces
    centres = ((faces["bbox_x1"] + faces["bbox_x2"]) / 2).to_numpy()
    assert len(faces) == 25 and faces["face_id"].nunique() == 1 and np.ptp(centres) < 20
