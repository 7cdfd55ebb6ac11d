"""Corpus processing: one Parquet per video + manifest, restartable, Ray equal to local."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import write_video
from pyfacs.distributed.corpus import MANIFEST, analyze_corpus, corpus_inputs, output_name
from pyfacs.errors import InputError

OPTIONS = {"au_model": "audetnet.ckplus", "expression_model": "esr9.fer2013"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, astronaut):
    root = tmp_path_factory.mktemp("corpus")
    (root / "sub").mkdir()
    for k, folder in enumerate([root, root, root / "sub", root / "sub"]):
        frames = [np.roll(astronaut, (k + 1) * i, axis=1) for i in range(6)]
        write_video(folder / f"clip{k}.mp4", frames)
    (root / "notes.txt").write_text("not a video")
    return root


def _tables(out):
    return {p.name: pd.read_parquet(p) for p in sorted(out.glob("*.parquet"))}


def test_local_run_writes_one_file_per_video_and_resumes(corpus, tmp_path):
    out = tmp_path / "out"
    first = analyze_corpus(corpus, out, options=OPTIONS)
    assert len(first) == 4 and all(r["status"] == "ok" for r in first)
    assert all(r["frames"] == 6 and r["faces"] == 6 and r["people"] == 1 for r in first)
    assert "audetnet.ckplus" in json.dumps(first[0]["models"])
    tables = _tables(out)
    assert len(tables) == 4 and all("AU12_p" in t and "expr_label" in t for t in tables.values())
    # a crash: one file lost mid-way (its partial file left behind), the others finished
    lost = out / output_name(corpus / "clip0.mp4")
    lost.rename(lost.with_name(lost.name + ".part"))
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
    again = analyze_corpus(corpus, out, options=OPTIONS)
    assert [r["source"] for r in again] == [str(corpus / "clip0.mp4")]  # only the lost one redone
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet") if p.name in mtimes} == mtimes
    assert not list(out.glob("*.part")) and len((out / MANIFEST).read_text().splitlines()) == 5
    assert analyze_corpus(corpus, out, options=OPTIONS) == []  # nothing left to do


@pytest.mark.slow
def test_ray_engine_equals_local(corpus, tmp_path):
    pytest.importorskip("ray", reason="needs the distributed extra (ray)")
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    analyze_corpus(corpus, local, options=OPTIONS)
    results = analyze_corpus(corpus, ray_out, engine="ray", workers=2, options=OPTIONS)
    assert len(results) == 4 and all(r["status"] == "ok" for r in results)
    a, b = _tables(local), _tables(ray_out)
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_cli(corpus, tmp_path):
    import subprocess
    import sys

    run = [sys.executable, "-m", "pyfacs.cli", "analyze-corpus"]
    res = subprocess.run(run + [str(corpus), "-o", str(tmp_path / "o"), "-q", "--au-model", "none",
                                "--expression-model", "none"], capture_output=True, text=True)
    assert res.returncode == 0 and "4 videos analysed" in res.stderr, res.stderr
    res = subprocess.run(run + [str(tmp_path / "missing"), "-o", str(tmp_path / "o")], capture_output=True, text=True)
    assert res.returncode == 2 and "does not exist" in res.stderr and "Traceback" not in res.stderr


def test_a_listed_video_that_is_missing_is_recorded_and_the_run_goes_on(corpus, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'gone.mp4'}\n{corpus / 'clip0.mp4'}\n")
    results = analyze_corpus(listing, tmp_path / "out", options={"au_model": None, "expression_model": None})
    assert [r["status"] for r in results] == ["error", "ok"] and "does not exist" in results[0]["error"]
    assert not list((tmp_path / "out").glob("*.part"))
    with pytest.raises(InputError, match="unknown au model"):  # refused before anything is made
        analyze_corpus(listing, tmp_path / "typo", options={"au_model": "openface.au-2"})
    assert not (tmp_path / "typo").exists()


def test_bench_times_each_stage(face_video):
    from pyfacs.bench import bench

    seen = []
    r = bench(face_video, au_model="audetnet.ckplus", expression_model="esr9.fer2013",
              on_progress=lambda stage, frames: seen.append((stage, frames)))
    assert r["frames"] == 50 and r["faces"] == 40
    assert seen[0] == ("stages", 1) and ("stages", 50) in seen and seen[-1] == ("end to end", 50)  # (the bar's)
    assert set(r["stages_fps"]) == {"decode", "faces", "au", "expression"}
    assert all(v > 0 for v in r["stages_fps"].values()) and r["end_to_end_fps"] > 0


def test_bench_reports_no_figure_for_work_not_done(tmp_path, astronaut, monkeypatch):
    import numpy as np
    from PIL import Image

    from conftest import write_video
    from pyfacs import Analyzer
    from pyfacs.bench import bench

    blank = write_video(tmp_path / "wall.mp4", [np.full_like(astronaut, 128)] * 5)
    r = bench(blank, au_model="audetnet.ckplus", expression_model="esr9.fer2013")
    assert r["faces"] == 0 and r["stages_fps"]["au"] is None and r["stages_fps"]["expression"] is None
    assert bench(blank, au_model="none", expression_model="none", max_frames=2)["end_to_end_fps"] is None
    with pytest.raises(InputError, match="max_frames"):
        bench(blank, max_frames=0)
    monkeypatch.setattr(Analyzer, "__init__", lambda *a, **kw: pytest.fail("models loaded for a missing video"))
    with pytest.raises(InputError, match="nope.mp4 does not exist"):
        bench(tmp_path / "nope.mp4")
    monkeypatch.undo()
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        Image.fromarray(astronaut).save(frames / f"{i}.png")
    runs = []
    real_run = Analyzer.run
    monkeypatch.setattr(Analyzer, "run", lambda self, *a, **kw: runs.append(kw) or real_run(self, *a, **kw))
    bench(frames, au_model="none", expression_model="none")
    assert runs[-1]["sequence"] is True  # the end-to-end run times the same job: one video of 3 frames


NO_HEADS = {"au_model": None, "expression_model": None}


def test_an_unexpected_error_in_one_video_is_recorded_and_the_run_goes_on(corpus, tmp_path, monkeypatch):
    from pyfacs.pipeline import Analyzer

    real = Analyzer._run_source

    def flaky(self, path, *args, **kwargs):
        if path.name == "clip1.mp4":
            raise RuntimeError("a bug")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(Analyzer, "_run_source", flaky)
    results = analyze_corpus(corpus, tmp_path / "out", options=NO_HEADS)
    assert [r["status"] for r in results] == ["ok", "error", "ok", "ok"]
    assert "unexpected RuntimeError (a bug)" in results[1]["error"]
    assert results[1]["output"] is None and results[0]["output"].endswith(".parquet")  # (no table kept for it)
    monkeypatch.undo()
    assert [r["source"] for r in analyze_corpus(corpus, tmp_path / "out", options=NO_HEADS)] == [results[1]["source"]]


def test_a_resume_must_ask_for_the_same_analysis(corpus, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{corpus / 'clip0.mp4'}\n{corpus / 'clip0.mp4'}\n")  # listed twice: analysed once
    out = tmp_path / "out"
    assert len(analyze_corpus(listing, out, options=NO_HEADS)) == 1
    with pytest.raises(InputError, match="holds tables of another analysis .*AU model none.* differs in au_model"):
        analyze_corpus(corpus, out, options={"au_model": "audetnet.ckplus", "expression_model": None})
    assert len(analyze_corpus(corpus, out, options=NO_HEADS)) == 3  # the same analysis: the rest is done
    assert len(pd.read_parquet(out)) == 4 * 6  # the manifest (_manifest.jsonl) does not stop a folder read
    assert len((out / MANIFEST).read_text().splitlines()) == 4


def test_one_run_at_a_time_writes_to_a_folder(corpus, tmp_path):
    fcntl = pytest.importorskip("fcntl", reason="folder locks use flock (not on Windows)")
    out = tmp_path / "out"
    out.mkdir()
    (out / "_running").write_text("host pid 1")  # left by a killed run: its lock went with it
    with open(out / "_running", "a+") as other:  # a run going on (its own open file: flock says busy)
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(InputError, match="another analyze-corpus run .host pid 1. is writing to"):
            analyze_corpus([corpus / "clip0.mp4"], out, options=NO_HEADS)
        fcntl.flock(other, fcntl.LOCK_UN)
    assert [r["status"] for r in analyze_corpus([corpus / "clip0.mp4"], out, options=NO_HEADS)] == ["ok"]


def test_a_worker_process_that_dies_costs_only_the_files_in_flight(corpus, tmp_path, monkeypatch):
    import os

    from pyfacs.distributed.corpus import CorpusWorker

    real = CorpusWorker.process

    def dies_on_clip1(self, video, out_dir):  # (the pool's processes are forked: they see this too)
        if video.endswith("clip1.mp4"):
            os._exit(9)  # as if killed for memory
        return real(self, video, out_dir)

    monkeypatch.setattr(CorpusWorker, "process", dies_on_clip1)
    results = analyze_corpus(corpus, tmp_path / "out", workers=2, options=NO_HEADS)
    status = {r["source"].rsplit("/", 1)[-1]: r["status"] for r in results}
    assert len(results) == 4 and status["clip1.mp4"] == "error"
    assert list(status.values()).count("ok") >= 2  # (clip0 or clip2 may have been in flight beside it)
    assert status["clip3.mp4"] == "ok"


def test_a_linked_video_is_done_once_and_the_users_own_files_are_left_alone(corpus, tmp_path):
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "mine.mp4").symlink_to(corpus / "clip0.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.parquet.part").write_text("precious")  # not a file in progress of ours
    (out / "manifest.jsonl").write_text('{"mine": 1}\n')  # not a manifest of an earlier pyfacs
    assert [r["status"] for r in analyze_corpus(linked, out, options=NO_HEADS)] == ["ok"]
    assert analyze_corpus(linked, out, options=NO_HEADS) == []  # restarted: the link's video is done
    assert (out / "notes.parquet.part").read_text() == "precious"
    assert (out / "manifest.jsonl").read_text() == '{"mine": 1}\n'
    assert len((out / MANIFEST).read_text().splitlines()) == 1


def test_a_stopped_run_with_workers_ends_quietly_and_records_what_it_finished(tmp_path, face_video):
    import shutil
    import signal
    import subprocess
    import sys
    import time

    videos = tmp_path / "videos"
    videos.mkdir()
    for k in range(12):
        shutil.copy(face_video, videos / f"v{k:02d}.mp4")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pyfacs.cli", "analyze-corpus", str(videos), "-o", str(out),
                             "-q", "--workers", "2", "--au-model", "none", "--expression-model", "none"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not (
            (out / MANIFEST).exists() and (out / MANIFEST).read_text().strip()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # the first video is done; the workers are on others
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    lines = (out / MANIFEST).read_text().splitlines()
    assert 1 <= len(lines) < 12
    assert {str(p) for p in out.glob("*.parquet")} <= {json.loads(line)["output"] for line in lines}


def test_awkward_names_and_lists_are_found_as_a_user_sees_them(corpus, tmp_path):
    """Hidden files and folders skipped, linked folders followed (a loop ends), a list's byte-order
    mark dropped, a listed folder or image refused with its line."""

    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "clip.mp4").symlink_to(corpus / "clip0.mp4")
    (root / "a" / "._clip.mp4").write_bytes(b"\0\5\26\7AppleDouble")  # macOS's resource-fork copy
    (root / ".Trashes").mkdir()
    (root / ".Trashes" / "old.mp4").symlink_to(corpus / "clip1.mp4")
    (root / "linked").symlink_to(corpus / "sub")  # a linked folder: its two clips count
    (root / "a" / "loop").symlink_to(root)  # a link back up: walked once
    found = corpus_inputs(root)
    assert [p.relative_to(root).as_posix() for p in found] == ["a/clip.mp4", "linked/clip2.mp4", "linked/clip3.mp4"]
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"\xef\xbb\xbf" + f"{corpus / 'clip0.mp4'}\r\n".encode())  # Notepad's BOM and CRLF
    assert corpus_inputs(listing) == [corpus / "clip0.mp4"]
    for line in (str(corpus / "sub"), str(corpus / "notes.txt")):
        listing.write_text(f"# a comment\n{corpus / 'clip0.mp4'}\n{line}\n")
        with pytest.raises(InputError, match=r"list.txt, line 3: .* is not a video file"):
            corpus_inputs(listing)


def test_names_that_are_not_utf8_or_very_long_get_a_table_each(corpus, tmp_path):
    import os
    import shutil

    root = tmp_path / "odd"
    root.mkdir()
    latin1 = os.fsdecode(os.fsencode(root) + b"/caf\xe9.mp4")  # a name written by a Latin-1 system
    long = root / ("a" * 240 + ".mp4")  # legal (244 bytes), but its table's name would not be
    for path in (latin1, long):
        shutil.copy(corpus / "clip0.mp4", path)
    names = [output_name(p) for p in corpus_inputs(root)]
    assert all(len(n.encode()) + len(".part") <= 255 for n in names) and names[0] != names[1]
    # a name of odd bytes only, or one starting with _ or ., must not make a table pandas skips in a folder
    for odd in (os.fsdecode(b"/v/\xe9\xe8.mp4"), "/v/_intro.mp4"):
        assert output_name(Path(odd))[0] not in "._"
    assert output_name(Path("/v/" + "b" * 222 + ".mp4")).startswith("b" * 222 + ".")  # (as earlier versions named it)
    results = analyze_corpus(root, tmp_path / "out", options=NO_HEADS)
    assert [r["status"] for r in results] == ["ok", "ok"]
    sources = {t["source"].iloc[0] for t in _tables(tmp_path / "out").values()}
    assert str(root / "caf\\xe9.mp4") in sources  # the odd byte kept visible in the (UTF-8) table


def test_an_error_outside_the_analysis_in_a_pool_costs_only_its_file(corpus, tmp_path, monkeypatch):
    from pyfacs.distributed.corpus import CorpusWorker

    real = CorpusWorker.process

    def fails_on_clip1(self, video, out_dir):  # (forked pool processes see this too)
        if video.endswith("clip1.mp4"):
            raise OSError(36, "File name too long", video)
        return real(self, video, out_dir)

    monkeypatch.setattr(CorpusWorker, "process", fails_on_clip1)
    results = analyze_corpus(corpus, tmp_path / "out", workers=2, options=NO_HEADS)
    status = {r["source"].rsplit("/", 1)[-1]: r for r in results}
    assert [status[f"clip{k}.mp4"]["status"] for k in range(4)] == ["ok", "error", "ok", "ok"]  # the pool went on
    assert "unexpected OSError" in status["clip1.mp4"]["error"]
