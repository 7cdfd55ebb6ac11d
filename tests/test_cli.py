"""The CLI: one clear line and exit code 2 for bad input, never a traceback, nothing lost."""
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pyfacs.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={"PYFACS_OFFLINE": "1", "PATH": "/usr/bin:/bin"})


def _assert_one_line_error(res, needle):
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert needle in res.stderr


def test_missing_file(tmp_path):
    _assert_one_line_error(run("analyze", tmp_path / "gone.mp4", "-o", tmp_path / "o.csv"), "does not exist")


def test_one_unreadable_video_is_one_line(tmp_path):
    (tmp_path / "fake.mp4").write_text("abc")
    res = run("analyze", tmp_path / "fake.mp4", "-o", tmp_path / "o.csv", "-q")
    _assert_one_line_error(res, "Invalid data found when processing input")  # FFmpeg's reason
    assert len([line for line in res.stderr.splitlines() if not line.startswith("WARNING")]) == 1, res.stderr
    res = run("analyze", "sample", "-o", tmp_path / "o.csv", "--landmarks-from", tmp_path)
    _assert_one_line_error(res, "is a folder")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    _assert_one_line_error(run("analyze", tmp_path / "empty", "-o", tmp_path / "o.csv"), "holds no images")


def test_bad_output_suffix(tmp_path):
    _assert_one_line_error(run("analyze", "sample", "-o", tmp_path / "o.xlsx"), ".parquet, .csv or .jsonl")


def test_text_file_named_mp4(tmp_path):
    bad = tmp_path / "fake.mp4"
    bad.write_text("hello\n" * 100)
    res = run("analyze", bad, "-o", tmp_path / "o.csv")
    _assert_one_line_error(res, "fake.mp4")


def test_one_bad_file_of_many_is_reported_and_the_rest_is_kept(tmp_path, astronaut, face_video):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    (tmp_path / "b.mp4").write_text("garbage")
    out = tmp_path / "o.parquet"
    res = run("analyze", tmp_path / "a.png", tmp_path / "b.mp4", face_video, "-o", out)
    _assert_one_line_error(res, "b.mp4")
    df = pq.read_table(out).to_pandas()  # a valid file with every good input's rows
    assert set(df["source"].str.rsplit("/", n=1).str[-1]) == {"a.png", "astronaut.mp4"}
    assert len(df) == 1 + 50


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_sample_to_each_format(tmp_path, suffix):
    out = tmp_path / f"o{suffix}"
    res = run("analyze", "sample", "-o", out, "-q")
    assert res.returncode == 0, res.stderr
    df = {".csv": pd.read_csv, ".parquet": pd.read_parquet,
          ".jsonl": lambda p: pd.read_json(p, lines=True)}[suffix](out)
    assert len(df) == 1 and df["face_id"].iloc[0] == 0 and "lmk68_y_67" in df.columns


def test_annotate_image_and_video(tmp_path, face_video):
    png = tmp_path / "a.png"
    assert run("analyze", "sample", "-o", tmp_path / "o.csv", "--annotate", png, "-q").returncode == 0
    assert Image.open(png).size == (512, 512)
    mp4 = tmp_path / "a.mp4"
    res = run("analyze", face_video, "-o", tmp_path / "v.csv", "--annotate", mp4, "-q")
    assert res.returncode == 0, res.stderr
    import av

    with av.open(str(mp4)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 50
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        Image.open(png).save(frames / f"{i:03d}.png")
    res = run("analyze", frames, "--sequence", "--fps", "12.5", "-o", tmp_path / "s.csv", "--annotate", mp4, "-q")
    assert res.returncode == 0 and f"drawn on {mp4}" in res.stderr, res.stderr
    with av.open(str(mp4)) as c:
        assert c.streams.video[0].average_rate == Fraction(25, 2)  # the sequence's own rate, not 12
    assert sorted(p.name for p in tmp_path.iterdir() if ".part" in p.name) == []
    res = run("analyze", face_video, "-o", tmp_path / "e.parquet", "--every", "3", "--annotate", mp4, "-q")
    assert res.returncode == 0, res.stderr
    with av.open(str(mp4)) as c:  # every frame of the video, drawn from a table of every third
        assert sum(1 for _ in c.decode(video=0)) == 50


def test_annotate_refuses_to_overwrite_the_input_written_with_a_tilde(tmp_path, astronaut):
    home = tmp_path / "home"
    home.mkdir()
    Image.fromarray(astronaut).save(home / "a.png")
    before = (home / "a.png").read_bytes()
    res = subprocess.run([sys.executable, "-m", "pyfacs.cli", "analyze", str(home / "a.png"), "-o", str(home / "o.csv"),
                          "--annotate=~/a.png"], capture_output=True, text=True,
                         env={"PYFACS_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(home)})
    _assert_one_line_error(res, "the input itself")
    assert (home / "a.png").read_bytes() == before


def test_annotations_say_what_the_table_says():
    import pandas as pd

    from pyfacs.viz.overlay import faces_by_frame

    row = {"source": "v", "frame": 3, "face_id": 2, "face_score": 0.9, "expr_label": "happy", "expr_happy": 0.8,
           "AU12_r": 2.5, "AU12_c": 1.0, "AU06_r": 3.1, "AU06_c": 1.0, "AU04_r": 4.0, "AU04_c": 0.0,
           "pose_pitch_deg": 1.0, "pose_yaw_deg": -2.0, "pose_roll_deg": 3.0,
           **dict.fromkeys(["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"], 1.0),
           **{f"lmk68_{a}_{i}": 1.0 for a in "xy" for i in range(68)}}
    drawn = faces_by_frame(pd.DataFrame([row, {"source": "v", "frame": 4, "face_id": None}]))
    assert drawn[4] == [] and drawn[3][0][2] == ["id 2  0.90", "pitch +1 yaw -2 roll +3", "happy 0.80",
                                                 "AU06 AU12"]  # present ones, strongest first


def test_models_lists_the_registry():
    res = run("models")
    assert res.returncode == 0 and "blazeface.short-range" in res.stdout and "facemesh.468" in res.stdout


@pytest.mark.data
def test_landmarks_from_openface_csv(tmp_path):
    from conftest import shared_path

    ref = shared_path("reference", "openface-2.2.0", "dynamic", "2015-10-15-15-14.csv")
    video = shared_path("media", "openface_samples", "2015-10-15-15-14.avi")
    out = tmp_path / "o.parquet"
    res = run("analyze", video, "--landmarks-from", ref, "--au-model", "none", "-o", out, "-q")
    assert res.returncode == 0, res.stderr
    df = pd.read_parquet(out)
    refdf = pd.read_csv(ref, skipinitialspace=True)
    assert len(df) == 842
    np.testing.assert_allclose(df["lmk68_x_30"], refdf["x_30"], atol=1e-3)


def test_landmarks_from_needs_one_video(tmp_path):
    csv = tmp_path / "of.csv"
    csv.write_text("frame,timestamp\n1,0\n")
    res = run("analyze", "sample", "--landmarks-from", csv, "-o", tmp_path / "o.csv")
    _assert_one_line_error(res, "OpenFace 2 CSV")


def test_summary_line_counts_people_in_videos(tmp_path, face_video):
    res = run("analyze", face_video, "-o", tmp_path / "o.csv", "-q", "--au-model", "none",
               "--expression-model", "none")
    assert res.returncode == 0 and "40 faces in 50 analysed frames" in res.stderr and "1 people" in res.stderr


def test_annotate_never_overwrites_the_input(tmp_path, astronaut):
    photo = tmp_path / "a.png"
    Image.fromarray(astronaut).save(photo)
    before = photo.read_bytes()
    _assert_one_line_error(run("analyze", photo, "-o", tmp_path / "o.csv", "--annotate", photo), "the input itself")
    assert photo.read_bytes() == before


@pytest.mark.parametrize("why", [["--every", "0"], ["--annotate", "x.txt"], "unreadable"])
def test_an_existing_output_is_kept_when_nothing_is_analysed(tmp_path, astronaut, why):
    photo, out = tmp_path / "a.png", tmp_path / "o.csv"
    Image.fromarray(astronaut).save(photo)
    out.write_text("earlier results\n")
    if why == "unreadable":
        photo.write_text("not an image")
        why = []
    res = run("analyze", photo, "-o", out, "-q", *why)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert out.read_text() == "earlier results\n" and not list(tmp_path.glob("*.part"))


def test_unwritable_outputs_are_input_errors(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "file").write_text("")
    _assert_one_line_error(run("analyze", "sample", "-o", tmp_path / "dir.csv"), "is a folder")
    _assert_one_line_error(run("analyze", "sample", "-o", tmp_path / "file" / "o.csv"), "is a file, not a folder")
    _assert_one_line_error(run("analyze", "sample", "-o", tmp_path / "o.csv", "--annotate", tmp_path / "no" / "a.png"),
                           "does not exist")
    _assert_one_line_error(run("analyze", "sample", "-o", tmp_path / "o.csv", "--annotate", tmp_path / "a.mp4"),
                           "must end in .png")


def test_error_lines_are_not_wrapped_when_piped(tmp_path, astronaut):
    bad = tmp_path / ("x" * 120 + ".png")
    bad.write_text("not an image")
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    res = run("analyze", bad, tmp_path / "a.png", "-o", tmp_path / "o.csv", "-q")
    line = next(ln for ln in res.stderr.splitlines() if ln.startswith("error:"))
    assert "check the file" in line  # the whole message on one line, though it is longer than 80 columns


def test_an_output_given_as_a_link_is_written_through(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    target = tmp_path / "target.csv"
    target.write_text("old\n")
    (tmp_path / "link.csv").symlink_to(target)
    res = run("analyze", tmp_path / "a.png", "-o", tmp_path / "link.csv", "-q", "--au-model", "none")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "link.csv").is_symlink() and pd.read_csv(target)["face_id"].tolist() == [0]


def test_usage_errors_are_one_line():
    for args, needle in ((["analyze", "sample", "-o", "x.csv", "--every", "abc"], "'--every'"),
                         (["analyze", "--bogus"], "--bogus"), (["nope"], "No such command")):
        res = run(*args)
        _assert_one_line_error(res, needle)
        assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error:") and "--help" in res.stderr


def test_annotate_is_checked_before_the_work(tmp_path, astronaut):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(astronaut).save(photos / name)
    out = tmp_path / "o.csv"
    out.write_text("earlier results\n")
    _assert_one_line_error(run("analyze", photos, "-o", out, "--annotate", tmp_path / "a.png"), "takes one input file")
    (tmp_path / "fake.mp4").write_text("abc")
    for video in (tmp_path / "fake.mp4",):  # a video that cannot be opened, with --annotate
        res = run("analyze", video, "-o", out, "-q", "--annotate", tmp_path / "a.mp4")
        _assert_one_line_error(res, "fake.mp4")
        assert "internal error" not in res.stderr
    (tmp_path / "dir.png").mkdir()
    for where in (tmp_path / "dir.png", "/sys/pyfacs-test.png"):  # a folder; a read-only file system
        res = run("analyze", photos / "a.png", "-o", out, "-q", "--annotate", where)
        _assert_one_line_error(res, "--annotate")
        assert "WARN" not in res.stderr and "wrote" not in res.stderr
    assert out.read_text() == "earlier results\n"


def test_other_commands_refuse_bad_paths_in_one_line(tmp_path, face_video):
    (tmp_path / "afile.txt").write_text("x")
    (tmp_path / "videos.txt").write_text(f"{face_video}\n")
    _assert_one_line_error(run("analyze-corpus", tmp_path / "videos.txt", "-o", tmp_path / "afile.txt"), "output folder")
    res = run("analyze-corpus", tmp_path / "videos.txt", "-o", tmp_path / "new", "--engine", "spark")
    _assert_one_line_error(res, "--engine")
    assert not (tmp_path / "new").exists()
    _assert_one_line_error(run("train", tmp_path), "is a folder")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xd8\xff\x00")
    _assert_one_line_error(run("train", tmp_path / "binary.yaml"), "not a text file")


def test_report_names_a_bad_cell(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    table = tmp_path / "t.csv"
    assert run("analyze", tmp_path / "a.png", "-o", table, "-q", "--au-model", "none").returncode == 0
    df = pd.read_csv(table)
    df = df.assign(participant="P01")  # the user's own text column: left as it is
    df.to_csv(table, index=False)
    assert run("report", table, "-o", tmp_path / "r.html").returncode == 0
    df["pose_yaw_deg"] = df["pose_yaw_deg"].astype(object)
    df.loc[0, "pose_yaw_deg"] = "oops"
    df.to_csv(table, index=False)
    _assert_one_line_error(run("report", table, "-o", tmp_path / "r.html"), "column 'pose_yaw_deg' holds 'oops'")
    df.loc[0, "pose_yaw_deg"] = 1.0
    df["face_id"] = df["face_id"].astype(float)
    df.loc[0, "face_id"] = 1.5
    df.to_csv(table, index=False)
    _assert_one_line_error(run("report", table, "-o", tmp_path / "r.html"), "face_id 1.5 in data row 1")


def test_an_interrupted_run_never_replaces_an_earlier_table(tmp_path, astronaut, monkeypatch):
    from typer.testing import CliRunner

    from pyfacs.cli import app
    from pyfacs.pipeline import Analyzer

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    out = tmp_path / "t.csv"
    args = ["analyze", str(tmp_path / "a.png"), "-o", str(out), "-q", "--au-model", "none", "--expression-model", "none"]
    assert CliRunner().invoke(app, args).exit_code == 0
    before = out.read_bytes()
    real = Analyzer.run

    def stopped_after_one_table(self, inputs, **kw):  # Ctrl-C once the first rows are written
        def on_table(df):
            kw_on_table(df)
            raise KeyboardInterrupt
        kw_on_table = kw["on_table"]
        return real(self, inputs, **{**kw, "on_table": on_table})

    monkeypatch.setattr(Analyzer, "run", stopped_after_one_table)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 130 and f"rows so far are in {tmp_path / 't.partial.csv'}" in res.output
    assert out.read_bytes() == before and len(pd.read_csv(tmp_path / "t.partial.csv")) == 1
    first_part = (tmp_path / "t.partial.csv").read_bytes()  # a second interrupted run keeps the first's part too
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 130 and f"rows so far are in {tmp_path / 't.partial-2.csv'}" in res.output
    assert (tmp_path / "t.partial.csv").read_bytes() == first_part and out.read_bytes() == before
    fresh = tmp_path / "new.csv"  # no earlier table: the rows so far are the output
    res = CliRunner().invoke(app, [*args[:3], str(fresh), *args[4:]])
    assert res.exit_code == 130 and fresh.exists() and not list(tmp_path.glob("*.part"))


def test_fps_goes_with_sequence(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    _assert_one_line_error(run("analyze", tmp_path / "a.png", "-o", tmp_path / "o.csv", "--fps", "25"),
                           "--fps sets the frame rate of a --sequence folder")
    _assert_one_line_error(run("analyze", tmp_path, "-o", tmp_path / "o.csv", "--sequence", "--fps", "0"),
                           "fps (--fps) must be a positive number")


def test_a_truncated_video_says_its_earlier_rows_are_in_the_output(tmp_path, astronaut):
    from conftest import write_video

    full = write_video(tmp_path / "full.avi", [np.roll(astronaut, 4 * i, axis=1) for i in range(40)])
    data = full.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    res = run("analyze", tmp_path / "cut.avi", "-o", tmp_path / "o.csv", "-q", "--au-model", "none",
              "--expression-model", "none")
    _assert_one_line_error(res, "the file is truncated or corrupt; the rows of its frames before that are in the output")
    assert 5 <= len(pd.read_csv(tmp_path / "o.csv")) < 40
    res = run("bench", tmp_path / "cut.avi", "--au-model", "none", "--expression-model", "none")
    _assert_one_line_error(res, "the file is truncated")
    assert "rows" not in res.stderr  # (bench writes none)


def test_an_input_given_twice_is_analysed_once(tmp_path, astronaut, caplog):
    import pyfacs

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    d = pyfacs.analyze([tmp_path / "a.png", tmp_path, str(tmp_path / "." / "a.png")], au_model=None,
                       expression_model=None).data  # the file, its folder, the file again
    assert len(d) == 1 and d["source"].tolist() == [str(tmp_path / "a.png")]
    assert "given more than once" in caplog.text
    (tmp_path / "alias.png").symlink_to(tmp_path / "a.png")  # a link is the user's own second input
    assert len(pyfacs.analyze(tmp_path, au_model=None, expression_model=None).data) == 2


def test_a_path_the_system_refuses_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from pyfacs.cli import app

    res = CliRunner().invoke(app, ["analyze", str(tmp_path / ("x" * 300 + ".mp4")), "-o", str(tmp_path / "t.csv")])
    assert res.exit_code == 2 and "File name too long" in res.output and "internal error" not in res.output


def test_ctrl_c_says_what_is_kept_only_where_something_is(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from typer.testing import CliRunner

    import pyfacs.bench
    import pyfacs.distributed.corpus
    import pyfacs.train.config
    import pyfacs.train.runner
    from pyfacs.cli import app

    def ctrl_c(*a, **kw):
        raise KeyboardInterrupt

    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    monkeypatch.setattr(pyfacs.bench, "bench", ctrl_c)
    res = CliRunner().invoke(app, ["bench", str(video)])
    assert res.exit_code == 130 and "interrupted" in res.output and "kept" not in res.output  # bench writes nothing
    monkeypatch.setattr(pyfacs.distributed.corpus, "analyze_corpus", ctrl_c)
    res = CliRunner().invoke(app, ["analyze-corpus", str(video), "-o", str(tmp_path / "out"), "--au-model", "none",
                                   "--expression-model", "none"])
    assert res.exit_code == 130 and f"{tmp_path / 'out' / '_manifest.jsonl'} are kept" in res.output
    pytest.importorskip("torch", reason="pyfacs train needs the train extra (torch)")
    monkeypatch.setattr(pyfacs.train.config, "load_config", lambda path, seed=None: SimpleNamespace(name="r", seed=0))
    monkeypatch.setattr(pyfacs.train.runner, "run", ctrl_c)
    train = ["train", str(tmp_path / "c.yaml"), "--run-dir", str(tmp_path / "run")]
    res = CliRunner().invoke(app, train)  # (a run that trained nothing leaves no folder)
    assert res.exit_code == 130 and "nothing was trained yet" in res.output
    (tmp_path / "run").mkdir()
    res = CliRunner().invoke(app, train)
    assert res.exit_code == 130 and f"kept in {tmp_path / 'run'}; the same command resumes" in res.output
