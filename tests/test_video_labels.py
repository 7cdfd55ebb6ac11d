"""Video corpora formats for the AU sequence model (fixtures in their exact on-disk layouts) and the
sequence model's windows and shapes."""
import numpy as np
import pytest

from pyfacs.data.video_labels import list_mead_clips, load_affwild2_au, load_video_labels
from pyfacs.errors import InputError


def test_affwild2_au_annotations(tmp_path):
    (tmp_path / "AU_Set" / "Train_Set").mkdir(parents=True)
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "video1.mp4").write_bytes(b"")
    (tmp_path / "AU_Set" / "Train_Set" / "video1.txt").write_text(
        "AU1,AU2,AU4,AU6,AU7,AU10,AU12,AU15,AU23,AU24,AU25,AU26\n"
        "0,0,1,0,0,0,1,0,0,0,1,0\n-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1\n1,0,0,0,0,0,0,0,0,0,0,0\n")
    v = load_affwild2_au(tmp_path, "video1")
    assert v.names[:3] == ["AU01", "AU02", "AU04"] and v.labels.shape == (3, 12)
    assert v.labels[0, 2] == 1 and np.isnan(v.labels[1]).all() and list(v.frames) == [0, 1, 2]
    with pytest.raises(InputError, match="Aff-Wild2 layout"):
        load_affwild2_au(tmp_path, "video2")
    # two annotated people: <video>_left.txt and <video>_right.txt beside one video
    text = (tmp_path / "AU_Set" / "Train_Set" / "video1.txt").read_text()
    (tmp_path / "AU_Set" / "Train_Set" / "video1_right.txt").write_text(text)
    assert load_affwild2_au(tmp_path, "video1_right").video == tmp_path / "videos" / "video1.mp4"


def test_mead_layout(tmp_path):
    for subject, emotion, level in (("M003", "happy", 1), ("M003", "angry", 3), ("W009", "neutral", 1)):
        d = tmp_path / subject / "video" / "front" / emotion / f"level_{level}"
        d.mkdir(parents=True)
        (d / "001.mp4").write_bytes(b"")
    clips = list_mead_clips(tmp_path)
    assert len(clips) == 3 and set(clips["emotion"]) == {"happy", "angry", "neutral"}
    assert clips[clips.emotion == "angry"]["level"].item() == 3 and set(clips["subject"]) == {"M003", "W009"}
    with pytest.raises(InputError, match="no MEAD clips"):
        list_mead_clips(tmp_path / "M003")


def test_generic_labels_csv(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"")
    (tmp_path / "l.csv").write_text("frame,AU12,AU06\n0,1,0\n1,1,1\n5,0,0\n")
    v = load_video_labels(tmp_path / "v.mp4", tmp_path / "l.csv")
    assert v.names == ["AU12", "AU06"] and list(v.frames) == [0, 1, 5] and v.labels[1].tolist() == [1, 1]
    with pytest.raises(InputError, match="no column"):
        load_video_labels(tmp_path / "v.mp4", tmp_path / "l.csv", columns=["AU99"])


def test_sequence_windows_and_model():
    torch = pytest.importorskip("torch", reason="needs the train extra (torch)")
    from pyfacs.temporal.sequence import AUSequenceModel
    from pyfacs.temporal.tokens import global_features, windows

    w = windows(np.arange(5, dtype=np.float32)[:, None], 3)
    assert w[:, :, 0].tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 4]]
    with pytest.raises(ValueError):
        windows(np.zeros((3, 1)), 2)
    lmk = np.random.default_rng(0).random((68, 2)) * 100
    g = global_features(lmk)
    moved = global_features(lmk * 2 + 30)  # scale and translation do not matter
    assert g.shape == (136,) and np.allclose(g, moved, atol=1e-4)
    model = AUSequenceModel(10, 136, 18, window=3)
    assert model(torch.zeros(4, 3, 146)).shape == (4, 18)


@pytest.mark.parametrize("text, match", [
    ("frame,AU12\n0,1,5,6\n1,0\n", "more cells than the header"),  # (was frames [5, INT64_MIN])
    ("frame,AU12\n,1\n1,0\n", "frame nan is not a 0-based frame number"),
    ("frame,AU12\n0.5,1\n", "frame 0.5 is not"),
    ("frame,AU12\n0,1\n0,0\n", "frame 0 is labelled twice"),
    ("frame,AU12\n0,yes\n", "column 'AU12' holds 'yes' in data row 1"),
    ("", "is empty"),
])
def test_a_malformed_generic_label_csv_is_one_line(tmp_path, text, match):
    (tmp_path / "v.mp4").write_bytes(b"")
    (tmp_path / "l.csv").write_text(text)
    with pytest.raises(InputError, match=match):
        load_video_labels(tmp_path / "v.mp4", tmp_path / "l.csv")


def test_a_generic_label_csv_with_spaces_after_commas_keeps_its_names(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"")
    (tmp_path / "l.csv").write_text("frame, AU12\n0, 1\n2, 0\n")
    labels = load_video_labels(tmp_path / "v.mp4", tmp_path / "l.csv")
    assert labels.names == ["AU12"] and labels.frames.tolist() == [0, 2] and labels.labels.tolist() == [[1], [0]]


@pytest.mark.parametrize("text, match", [
    ("\ufeffAU1,AU2\n0,1\n-1,-1\n", None),  # a byte-order mark, as Windows editors write it: read
    ("AU1, AU2\r\n0, 1\r\n", None),
    ("", "is empty"),
    ("frame,AU1\n0,1\n", "is not AU1,AU2"),
    ("AU1,AU2\n0,1\n0\n", "line 3: '0' is not 2 values of 0, 1 or -1"),
    ("AU1,AU2\n0,2\n", "line 2"),
    ("AU1,AU2\n0,yes\n", "line 2"),
    ("AU1,AU2\n0,1\n\n1,1\n", "line 3: a blank line among the frames' lines"),
])
def test_affwild2_files_are_read_kindly_and_checked(tmp_path, text, match):
    (tmp_path / "AU_Set" / "Train_Set").mkdir(parents=True)
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "v1.mp4").write_bytes(b"")
    (tmp_path / "AU_Set" / "Train_Set" / "v1.txt").write_bytes(text.encode())
    if match is None:
        got = load_affwild2_au(tmp_path, "v1")
        assert got.names == ["AU01", "AU02"] and got.labels[0].tolist() == [0, 1]
    else:
        with pytest.raises(InputError, match=match):
            load_affwild2_au(tmp_path, "v1")


def test_openface_labels_of_several_faces_are_refused(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")  # only its existence is checked here
    rows = ["frame, face_id, timestamp, confidence, success, AU12_r, AU12_c"]
    rows += [f"{f}, {face}, {(f - 1) / 30:.3f}, 0.98, 1, {face}.0, {face}" for f in (1, 2) for face in (0, 1)]
    (tmp_path / "multi.csv").write_text("\n".join(rows) + "\n")  # FaceLandmarkVidMulti: a row per face
    with pytest.raises(InputError, match="several faces in frame 1 .*one face_id's rows"):
        load_video_labels(video, tmp_path / "multi.csv", fmt="openface")
    (tmp_path / "one.csv").write_text("\n".join(rows[::2]) + "\n")
    assert load_video_labels(video, tmp_path / "one.csv", fmt="openface").frames.tolist() == [0, 1]
