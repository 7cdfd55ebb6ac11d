"""The HTML report and FaceTable plots; the page rendered in headless Chromium (Debian's `chromium`,
which .ci/run installs when it can)."""
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import pyfacs


@pytest.fixture(scope="module")
def results(tmp_path_factory, face_video):
    out = tmp_path_factory.mktemp("rep") / "r.parquet"
    pyfacs.analyze(face_video, au_model="audetnet.ckplus", expression_model="esr9.fer2013").to_parquet(out)
    return out


def test_report_page_and_plots(results, tmp_path):
    import matplotlib

    matplotlib.use("svg")  # a user's backend: plotting must leave it alone
    table = pyfacs.FaceTable.read(results)
    page = table.report(tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64,") >= 1 + 4 + 3  # occurrence, 4 sample frames, 3 plots
    assert "Person 0 (40 frames)" in page and "AU occurrence" in page
    for fig in (table.plot_aus(0), table.plot_expressions(0), table.plot_au_occurrence(), table.plot_au_map(0)):
        assert fig.axes and fig.get_size_inches()[0] > 3
        fig.savefig(tmp_path / "f.png")
    assert matplotlib.get_backend() == "svg"


def test_report_renders_in_chromium(results, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from PIL import Image

    page = pyfacs.FaceTable.read(results).report(tmp_path / "r.html")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,2400",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (2400, 1100)
    assert (img < 200).mean() > 0.05 and img.std() > 20  # plots and frames drawn, not a blank page


def test_report_cli_errors(tmp_path):
    import sys

    res = subprocess.run([sys.executable, "-m", "pyfacs.cli", "report", str(tmp_path / "none.parquet"), "-o",
                          str(tmp_path / "r.txt")], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    (tmp_path / "_manifest.jsonl").write_text('{"source": "a.mp4", "status": "ok"}\n')  # analyze-corpus's, not a table
    for name in ("none.parquet", "junk.parquet", "junk.png", "_manifest.jsonl"):
        if name.startswith("junk"):
            (tmp_path / name).write_text("junk")
        res = subprocess.run([sys.executable, "-m", "pyfacs.cli", "report", str(tmp_path / name), "-o",
                              str(tmp_path / "r.html")], capture_output=True, text=True)
        assert res.returncode == 2 and "Traceback" not in res.stderr and "internal error" not in res.stderr, res.stderr


def test_au_occurrence_keeps_apart_people_of_files_with_one_name():
    from pyfacs.viz.plots import plot_au_occurrence

    df = pd.DataFrame({"source": ["s1/task.mp4"] * 2 + ["s2/task.mp4"] * 2, "frame": [0, 1, 0, 1], "face_id": 0,
                       "AU12_c": [1.0, 1.0, 0.0, 0.0]})
    bars = [p.get_height() for p in plot_au_occurrence(df).axes[0].patches]
    assert bars == [1.0, 0.0]


def test_au_occurrence_has_a_bar_group_per_person_of_each_source():
    from pyfacs.viz.plots import plot_au_occurrence

    df = pd.DataFrame({"source": ["a.mp4", "a.mp4", "b.jpg"], "frame": [0, 0, 0], "face_id": [0, 1, 0],
                       "AU12_c": [1.0, 0.0, 1.0]})
    labels = [t.get_text() for t in plot_au_occurrence(df).axes[0].get_legend().get_texts()]
    assert labels == ["a.mp4: person 0", "a.mp4: person 1", "b.jpg: person 0"]


def test_report_of_a_folder_of_stills_stays_small_and_pools_them(tmp_path):
    from pyfacs.viz.report import MAX_STILL_ROWS

    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"source": [f"img{i:04d}.png" for i in range(n)], "frame": 0, "timestamp_s": 0.0,
                       "face_id": pd.array([0] * n, dtype="Int64"), "AU12_c": rng.integers(0, 2, n).astype(float),
                       "AU12_r": rng.uniform(0, 5, n), "expr_label": "happy"})
    circle = {f"lmk68_{axis}_{i}": np.full(n, 50 + 20 * (np.cos if axis == "x" else np.sin)(i / 68 * 2 * np.pi))
              for axis in "xy" for i in range(68)}  # a plausible face: points on a circle
    df = pd.concat([df, pd.DataFrame(circle)], axis=1)
    page = pyfacs.FaceTable(df).report(tmp_path / "r.html").read_text()
    assert f"Still images ({n} images, {n} faces)" in page and "Person 0" not in page
    assert page.count("<tr>") == 1 + MAX_STILL_ROWS and f"{n - MAX_STILL_ROWS} more faces" in page
    assert page.count("data:image/png;base64,") == 2  # occurrence (one pooled group) and one AU map
    fig = pyfacs.FaceTable(df).plot_au_occurrence()
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [f"{n} still images ({n} faces)"]


def test_plots_run_over_frames_when_the_table_has_no_times():
    df = pd.DataFrame({"source": "v.mp4", "frame": np.arange(10), "timestamp_s": np.nan,
                       "face_id": pd.array([0] * 10, dtype="Int64"), "AU12_p": np.linspace(0, 1, 10),
                       "expr_happy": 0.5, "expr_sad": 0.5})
    table = pyfacs.FaceTable(df)
    for fig in (table.plot_aus(0), table.plot_expressions(0)):
        ax = fig.axes[0]
        assert ax.get_xlabel() == "frame"
        drawn = [line.get_xdata() for line in ax.get_lines()] + [c.get_paths()[0].vertices[:, 0] for c in ax.collections]
        assert drawn and all(np.isfinite(np.asarray(x, float)).any() for x in drawn)


@pytest.mark.data
def test_report_of_another_tools_file(tmp_path):
    import sys

    from conftest import shared_path

    res = subprocess.run([sys.executable, "-m", "pyfacs.cli", "report",
                          str(shared_path("interop", "pyfeat_tests", "OpenFace_Test.csv")), "-o", str(tmp_path / "r.html")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    page = (tmp_path / "r.html").read_text()  # a video's frames: time series per person, no "still images"
    assert "Person 0 (" in page and "Still images" not in page and "data:image/png;base64," in page


def test_plots_of_tables_with_presence_probabilities_only_or_unnormalised_expressions():
    import pandas as pd

    from pyfacs.table import FaceTable

    rows = [{"source": "x.csv", "frame": f, "timestamp_s": f / 25, "face_id": 0, "AU12_p": 0.2 + 0.2 * f,
             "expr_happy": 0.9, "expr_surprise": 0.8} for f in range(4)]  # scored one by one, as iMotions does
    table = FaceTable(pd.DataFrame(rows))
    bars = table.plot_au_occurrence().axes[0].patches
    assert [round(b.get_height(), 2) for b in bars] == [0.5]  # AU12 present (p >= 0.5) in 2 of 4 frames
    ax = table.plot_expressions(0).axes[0]
    assert len(ax.lines) == 2 and ax.get_ylim()[1] >= 1.0 and not ax.collections  # lines, not a stack over 1


def test_report_of_presence_probabilities_and_scores_only_has_occurrence_expressions_and_gaps(tmp_path):
    from pyfacs.viz.plots import plot_au_timeseries
    from pyfacs.viz.report import write_report

    frames = [f for f in range(30) if not 10 <= f < 20]  # the face is away for frames 10-19
    df = pd.DataFrame({"source": "v.csv", "frame": frames, "timestamp_s": np.array(frames) / 10,
                       "face_id": 0, "AU12_p": 0.9, "expr_happy": 0.9, "expr_sad": 0.3})  # (py-feat, iMotions)
    page = write_report(pyfacs.FaceTable(df), tmp_path / "r.html").read_text()
    assert "<h2>AU occurrence</h2>" in page and "expressions person 0" in page
    x = plot_au_timeseries(df, 0).axes[0].get_lines()[0].get_xdata()
    assert np.isnan(np.asarray(x, float)).sum() == 1  # the line breaks once, where the face was away
    still = df.head(1).assign(source="photo.jpg")
    page = write_report(pyfacs.FaceTable(still), tmp_path / "s.html").read_text()
    assert "<td>happy</td><td>AU12</td>" in page  # the top score and the AUs with p >= 0.5


def test_lines_break_at_each_gap_and_negative_au_means_still_draw(tmp_path):
    from pyfacs.viz.plots import _broken_at_gaps
    from pyfacs.viz.report import write_report

    frames = [0, 1, 2, 10, 11, 20, 21, 22]  # away twice
    df = pd.DataFrame({"source": "v.mp4", "frame": frames, "timestamp_s": np.array(frames) / 10.0,
                       "face_id": 0, "AU01_r": -0.6, "AU12_r": np.arange(8.0)})  # (AU01: a person's baseline taken off)
    broken = _broken_at_gaps(df)
    assert broken["frame"].isna().tolist() == [False] * 3 + [True] + [False] * 2 + [True] + [False] * 3
    assert broken["frame"].dropna().tolist() == frames and broken["source"].iloc[0] == "v.mp4"
    shape = {**{f"lmk68_x_{i}": 100 + 1.5 * i for i in range(68)},
             **{f"lmk68_y_{i}": 100 + 50 * np.sin(i) for i in range(68)}}
    df = pd.concat([df, pd.DataFrame(shape, index=df.index)], axis=1)  # (the AU map needs a face shape)
    assert write_report(pyfacs.FaceTable(df), tmp_path / "r.html").stat().st_size > 0  # (it used to crash)


def test_a_crowd_gets_a_readable_report(tmp_path):
    """Thirty people: the twelve seen longest drawn in full, the others listed; seven bar groups and
    one for the others in the occurrence chart, not thirty."""
    from pyfacs.viz.plots import plot_au_occurrence
    from pyfacs.viz.report import write_report

    rows = [(p, f) for p in range(30) for f in range(2 + p)]  # person p seen for 2 + p frames
    df = pd.DataFrame({"source": "crowd.mp4", "frame": [f for _, f in rows], "face_id": [p for p, _ in rows],
                       "AU12_c": 1.0})
    df["timestamp_s"] = df["frame"] / 25
    page = write_report(pyfacs.FaceTable(df), tmp_path / "r.html").read_text()
    assert page.count("<h3>Person") == 12 and "<h3>Person 29 (31 frames)" in page and "<h3>Person 17 " not in page
    assert "30 people; the 12 seen longest are drawn below" in page and "0: 2, 1: 3" in page
    labels = [t.get_text() for t in plot_au_occurrence(df).axes[0].get_legend().get_texts()]
    assert len(labels) == 8 and "23 other people" in labels and "person 29" in labels and "person 22" not in labels
