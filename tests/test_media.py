
import numpy as np
import pytest
from PIL import Image

from pyfacs.errors import InputError
from pyfacs.io.media import expand_inputs, iter_frames, read_image
from pyfacs.pipeline import _frame_array


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
    with pytest.raises(InputError, match=r"matches no image or video$"):
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
    with Image.open(path) as opened:  # the same image handed over in memory reads the same
        assert np.array_equal(_frame_array(opened), rgb)


def test_an_exif_rotated_photo_in_memory_is_upright_as_from_its_file(tmp_path, astronaut):
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90° clockwise to show
    Image.fromarray(np.ascontiguousarray(np.rot90(astronaut))).save(path, exif=exif)
    with Image.open(path) as opened:
        rgb = _frame_array(opened)
    assert rgb.shape == (512, 512, 3) and np.array_equal(rgb, read_image(path))
    assert np.abs(rgb.astype(int) - astronaut).mean() < 8  # upright again (JPEG noise aside)


def test_video_timestamps_come_from_the_container(face_video):
    frames = list(iter_frames(face_video))
    assert len(frames) == 50
    ts = np.array([f.timestamp_s for f in frames])
    assert np.allclose(np.diff(ts), 1 / 25, atol=1e-6)
    assert [f.index for f in frames] == list(range(50))


def test_truncated_video_keeps_earlier_frames_and_says_so(tmp_path, astronaut):
    # an AVI's index of frames is at its start, so a cut file still opens and decodes up to the cut
    from conftest import write_video

    full = write_video(tmp_path / "full.avi", [np.roll(astronaut, 4 * i, axis=1) for i in range(40)])
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(InputError, match=r"cut\.avi: only \d+ of the 40 frames .* truncated"):
        for f in iter_frames(cut):
            got.append(f.index)
    assert 5 <= len(got) < 40 and got == list(range(len(got)))


def test_rotation_tag_turns_frames_upright(tmp_path):
    import av

    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:10, :20] = 255  # a mark at the top left of the stored (landscape) frame
    path = tmp_path / "phone.mp4"
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)  # shown turned a quarter counter-clockwise, as phones tag portrait video
        for pkt in [*s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")), *s.encode()]:
            c.mux(pkt)
    (f,) = list(iter_frames(path))
    assert f.rgb.shape == (64, 48, 3) and f.timestamp_s == 0.0
    lit = np.argwhere(f.rgb[..., 0] > 200)
    assert lit[:, 0].min() >= 40 and lit[:, 1].max() <= 12  # the mark is now at the bottom left


def test_globs_take_only_images_and_videos_as_folders_do(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "._a.jpg").write_bytes(b"macOS resource fork")
    assert expand_inputs([str(tmp_path / "*")]) == [tmp_path / "a.jpg"] == expand_inputs([str(tmp_path)])
    with pytest.raises(InputError, match=r"matches no image or video \(1 other files\)"):
        expand_inputs([str(tmp_path / "*.txt")])
    (tmp_path / "clip.MTS").write_bytes(b"")
    assert tmp_path / "clip.MTS" in expand_inputs([str(tmp_path)])  # camcorder video is video



def test_a_folder_read_as_a_sequence_is_one_video_in_natural_order(tmp_path, astronaut):
    from pyfacs.io.media import sequence_images, video_frame_count

    for i in (10, 2, 1):  # unpadded numbers: 2 comes before 10
        Image.fromarray(np.roll(astronaut, i, axis=1)).save(tmp_path / f"frame_{i}.png")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in sequence_images(tmp_path)] == ["frame_1.png", "frame_2.png", "frame_10.png"]
    assert expand_inputs([str(tmp_path)], sequence=True) == [tmp_path]
    assert len(expand_inputs([str(tmp_path)])) == 3  # (without: three stills)
    frames = list(iter_frames(tmp_path, fps=25))
    assert [(f.source, f.index, f.timestamp_s) for f in frames] == [(str(tmp_path), k, k / 25) for k in range(3)]
    assert video_frame_count(tmp_path) == 3
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no images to read as a sequence"):
        expand_inputs([str(tmp_path / "empty")], sequence=True)


def test_a_trimmed_mp4_is_not_taken_for_a_truncated_one(tmp_path):
    """A clip trimmed without re-encoding keeps the cut frames, hidden by an edit list: its sample
    count (40) overstates what it shows (20); its duration does not."""
    import av

    src = tmp_path / "src.mp4"
    with av.open(str(src), mode="w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.gop_size = 1
        for i in range(40):
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 5, np.uint8), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    trimmed = tmp_path / "trimmed.mp4"
    with av.open(str(src)) as i, av.open(str(trimmed), "w") as o:
        ist = i.streams.video[0]
        ost = o.add_stream_from_template(ist)
        shift = int(20 / 25 / ist.time_base)  # the first 0.8 s cut: negative times, an edit list
        for pkt in i.demux(ist):
            if pkt.dts is not None:
                pkt.pts, pkt.dts, pkt.stream = pkt.pts - shift, pkt.dts - shift, ost
                o.mux(pkt)
    with av.open(str(trimmed)) as c:
        assert c.streams.video[0].frames == 40
    frames = list(iter_frames(trimmed))
    assert len(frames) == 20 and frames[0].timestamp_s == 0.0


def _encode(path, n, *, codec="libx264", options=None, audio_s=0.0, fps=25):
    """A small moving-gradient video; with ``audio_s``, a silent AAC track that long beside it."""
    import av

    with av.open(str(path), mode="w") as c:
        s = c.add_stream(codec, rate=fps, options=options or {})
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        a = c.add_stream("aac", rate=48000) if audio_s else None
        ramp = np.linspace(0, 255, 96, dtype=np.float32)[None, :, None]
        for i in range(n):
            rgb = np.broadcast_to((ramp + 9 * i) % 256, (64, 96, 3)).astype(np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
        for k in range(int(audio_s * 48000 / 1024)) if a else ():
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, k * 1024
            for pkt in a.encode(frame):
                c.mux(pkt)
        for pkt in a.encode() if a else ():
            c.mux(pkt)
    return path


def test_a_damaged_packet_costs_its_frames_not_the_rest_of_the_video(tmp_path, caplog):
    import av

    path = _encode(tmp_path / "v.mp4", 60, options={"g": "10"})
    with av.open(str(path)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    pos, size = packets[25]
    data = bytearray(path.read_bytes())
    data[pos:pos + size] = np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    frames = list(iter_frames(damaged))  # (it used to stop at the damaged packet, with an error)
    assert len(frames) >= 50 and frames[-1].index == len(frames) - 1
    assert "damaged packet(s) skipped" in caplog.text


def test_audio_outlasting_the_video_is_not_a_cut_file(tmp_path):
    path = _encode(tmp_path / "talk.mp4", 25, audio_s=3.0)  # 1 s of video, 3 s of sound
    assert len(list(iter_frames(path))) == 25


def test_an_avi_with_b_frames_has_increasing_times_from_0(tmp_path):
    """AVI stores no presentation times; with B-frames FFmpeg's made-up ones come in decode order."""
    path = _encode(tmp_path / "b.avi", 30, options={"bf": "2"})
    ts = np.array([f.timestamp_s for f in iter_frames(path)])
    assert len(ts) == 30 and ts[0] == 0.0 and np.allclose(np.diff(ts), 1 / 25, atol=1e-6)


def test_a_cut_matroska_file_is_said_to_be_cut(tmp_path, caplog):
    """Matroska counts no frames: its duration is the only clue, and a variable frame rate can make a
    whole file look short, so a warning, not an error."""
    full = _encode(tmp_path / "full.mkv", 60, codec="mpeg4")
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # (its header still says 2.4 s)
    assert 5 < len(list(iter_frames(cut))) < 55
    assert "but its header says it lasts about 2.40 s; it may be cut short" in caplog.text
    caplog.clear()
    assert len(list(iter_frames(full))) == 60 and "cut short" not in caplog.text


def test_a_last_frame_held_for_seconds_is_not_a_cut_and_a_ruined_file_is_one(tmp_path):
    from fractions import Fraction

    import av

    path = tmp_path / "held.mp4"  # a screen recording: 100 frames 40 ms apart, the last shown for 5 s
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.codec_context.time_base = s.time_base = Fraction(1, 1000)
        packets = []
        for i in range(100):
            frame = av.VideoFrame.from_ndarray(np.full((64, 96, 3), 9 * i % 256, np.uint8), format="rgb24")
            frame.pts, frame.time_base = 40 * i, Fraction(1, 1000)
            packets += s.encode(frame)
        packets += s.encode()
        packets[-1].duration = 5000
        for p in packets:
            c.mux(p)
    assert len(list(iter_frames(path))) == 100
    ruined = _encode(tmp_path / "v.mp4", 60, options={"g": "10"})
    with av.open(str(ruined)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    data = bytearray(ruined.read_bytes())
    for pos, size in packets[5:50]:  # three quarters of it damaged: skipped packets count against it
        data[pos:pos + size] = np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes()
    ruined.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"only \d+ of the 60 frames .*damaged packet\(s\) skipped"):
        list(iter_frames(ruined))


def test_an_animated_image_says_only_its_first_frame_is_analysed(tmp_path, astronaut, caplog):
    frames = [Image.fromarray(np.roll(astronaut, 40 * i, axis=1)) for i in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert read_image(tmp_path / "a.gif").shape == astronaut.shape
    assert "holds 3 frames; only the first is analysed" in caplog.text
