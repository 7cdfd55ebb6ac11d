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
    (tmp_path / "manifest.jsonl").write_text('{"source": "a.mp4", "status": "ok"}\n')  # analyze-corpus's, not a table
    for name in ("none.parquet", "junk.parquet", "junk.png", "manifest.jsonl"):
        if name.startswith("junk"):
            (tmp_path / name).write_text("junk")
        res = subprocess.run([sys.executable, "-m", "pyfacs.cli", "report", str(tmp_path / name), "-o",
                              str(tmp_path / "r.html")], capture_output=True, text=True)
        assert res.returncode == 2 and "Traceback" not in res.stderr and "internal error" not in res.stderr, res.stderr


def test_au_occurrence_has_a_bar_group_per_person_of_each_source():
    from pyfacs.viz.plots import plot_au_occurrence

    df = pd.DataFrame({"source": ["a.mp4", "a.mp4", "b.jpg"], "frame": [0, 0, 0], "face_id": [0, 1, 0],
                       "AU12_c": [1.0, 0.0, 1.0]})
    labels = [t.get_text() for t in plot_au_occurrence(df).axes[0].get_legend().get_texts()]
    assert labels == ["a.mp4: person 0", "a.mp4: person 1", "b.jpg: person 0"]
