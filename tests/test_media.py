from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pyfacs.errors import InputError
from pyfacs.io.media import expand_inputs, iter_frames, read_image


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        expand_inputs([str(tmp_path / "nope.mp4")])


def test_empty_folder_is_input_error(tmp_path):
    with pytest.raises(InputError, match="holds no images or videos"):
        expand_inputs([str(tmp_path)])


def test_glob_and_folder_expand_sorted(tmp_path, astronaut):
    for name in ("b.png", "a.png"):
        Image.fromarray(astronaut).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in expand_inputs([str(tmp_path)])] == ["a.png", "b.png"]
    assert [p.name for p in expand_inputs([str(tmp_path / "*.png")])] == ["a.png", "b.png"]
    with pytest.raises(InputError, match="matches no file"):
        expand_inputs([str(tmp_path / "*.jpg")])


def test_text_file_named_mp4_is_input_error(tmp_path):
    bad = tmp_path / "fake.mp4"
    bad.write_text("this is not a video\n" * 50)
    with pytest.raises(InputError, match="not a readable video"):
        list(iter_frames(bad))


def test_text_file_named_png_is_input_error(tmp_path):
    bad = tmp_path / "fake.png"
    bad.write_text("not an image")
    with pytest.raises(InputError, match="not a readable image"):
        read_image(bad)


@pytest.mark.parametrize("mode", ["I;16", "RGBA", "L", "LA", "P"])
def test_any_image_mode_becomes_rgb8(tmp_path, astronaut, mode):
    img = Image.fromarray(astronaut)
    if mode == "I;16":
        gray = np.asarray(img.convert("L"), np.uint16) * 257
        img = Image.fromarray(gray)
        assert img.mode.startswith("I;16")
    else:
        img = img.convert(mode)
    path = tmp_path / "x.png"
    img.save(path)
    rgb = read_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (512, 512, 3)
    assert 60 < rgb.mean() < 200  # scaled, not clipped to black or white


def test_video_timestamps_come_from_the_container(face_video):
    frames = list(iter_frames(face_video))
    assert len(frames) == 50
    ts = np.array([f.timestamp_s for f in frames])
    assert np.allclose(np.diff(ts), 1 / 25, atol=1e-6)
    assert [f.index for f in frames] == list(range(50))


def test_truncated_video_keeps_earlier_frames_and_says_so(tmp_path, face_video):
    data = Path(face_video).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    got = []
    try:
        for f in iter_frames(cut):
            got.append(f.index)
    except InputError as exc:
        assert "cut.mp4" in str(exc)
    # either the decoder stops cleanly at the cut or it reports it; frames before it are never lost
    assert got == list(range(len(got)))
