"""The OpenFace 2.2 AU port: file formats, PDM fitting and fidelity on OpenFace's reference clip."""
import struct

import numpy as np
import pytest

from conftest import shared_path
from pyfacs.au.openface.files import read_dat
from pyfacs.au.openface.pdm import PDM, PDMFit, euler_to_matrix
from pyfacs.au.openface.predictor import RunningMedian


def test_read_dat_dynamic_svr(tmp_path):
    means, w = np.arange(4.0), np.array([0.5, -1.0, 2.0, 0.0])
    buf = struct.pack("<i", 1) + struct.pack("<d", 0.3)
    for m in (means[None, :], w[:, None]):
        buf += struct.pack("<iii", *m.shape, 6) + m.astype("<f8").tobytes()
    buf += struct.pack("<d", -0.25)
    (tmp_path / "m.dat").write_bytes(buf)
    model = read_dat(tmp_path / "m.dat", "AU01")
    assert model.task == "svr" and model.dynamic and model.cutoff == 0.3 and model.bias == -0.25
    np.testing.assert_array_equal(model.means, means)
    np.testing.assert_array_equal(model.weights, w)


def test_running_median_matches_numpy_within_a_bin():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.5, size=(301, 20))
    rm = RunningMedian(20, 1000, -0.005, 1.0)
    for row in x:
        rm.update(row)
    assert np.abs(rm.value(x[-1]) - np.median(x, axis=0)).max() <= rm.width


def test_pdm_fit_recovers_a_projected_shape():
    from pyfacs.au.openface.files import PDMFile

    rng = np.random.default_rng(1)
    n, m = 68, 5
    mean = rng.normal(size=(n, 3)) * 30
    comps = np.linalg.qr(rng.normal(size=(n * 3, m)))[0].reshape(n, 3, m)
    pdm = PDM(PDMFile(mean, comps, np.full(m, 1e4)))
    truth = PDMFit(2.0, np.array([0.1, -0.2, 0.05]), np.array([320.0, 240.0]), rng.normal(size=m) * 20)
    fit = pdm.fit(pdm.project(truth))
    assert np.abs(pdm.project(fit) - pdm.project(truth)).max() < 0.05
    np.testing.assert_allclose(fit.rotation, truth.rotation, atol=1e-3)
    assert euler_to_matrix(0, 0, 0).tolist() == np.eye(3).tolist()


@pytest.fixture(scope="module")
def bench():
    shared_path("reference", "openface-2.2.0")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import au_vs_openface

    return au_vs_openface


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("static", [False, True])
def test_port_fidelity_on_the_reference_clip(bench, static):
    """`analyze --landmarks-from` OpenFace's CSV vs OpenFace's AUs. The issue's bar (r >= 0.98 on
    every AU) is not met yet; this guards the level reached (docs/openface-au.md)."""
    rs, agree = bench.port(static)
    vals = np.array(list(rs.values()))
    assert np.nanmean(vals) >= 0.95
    assert np.sum(vals >= 0.98) >= 8
    for au in ("AU01", "AU04", "AU10", "AU45"):
        assert rs[au] >= 0.98
    assert np.mean(list(agree.values())) >= 0.97


def _two_people_video(tmp_path, astronaut):
    """Two copies of the astronaut side by side; the right one's face is darkened from frame 0."""
    from conftest import write_video

    frames = []
    for i in range(12):
        left = np.roll(astronaut, 2 * i, axis=1)
        right = (astronaut * 0.6).astype(np.uint8)
        frames.append(np.concatenate([left, right], axis=1))
    return write_video(tmp_path / "two.mp4", frames)


@pytest.mark.data
def test_au_columns_per_face_and_state_per_face_id(tmp_path, astronaut):
    shared_path("models", "openface-2.2.0")
    import pyfacs

    video = _two_people_video(tmp_path, astronaut)
    t = pyfacs.analyze(video, au_model="openface.au-2.2")
    d = t.faces
    assert set(d["face_id"]) == {0, 1} and len(d) == 24
    assert "AU12_r" in d and "AU28_c" in d and "AU28_r" not in d
    assert d["AU01_r"].between(0, 5).all() and d["AU12_c"].isin([0, 1]).all()
    head = pyfacs.Analyzer(au_model="openface.au-2.2").au_head
    assert head.columns[:2] == ["AU01_r", "AU02_r"]


@pytest.mark.data
def test_still_image_uses_static_models(tmp_path, astronaut):
    shared_path("models", "openface-2.2.0")
    from PIL import Image

    import pyfacs

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    row = pyfacs.analyze(tmp_path / "a.png", au_model="openface.au-2.2").data.iloc[0]
    assert 0 <= row["AU12_r"] <= 5 and row["AU12_r"] > 0.5  # the astronaut smiles


def test_unavailable_openface_falls_back_to_the_embedded_model(tmp_path, monkeypatch, caplog, astronaut):
    from PIL import Image

    import pyfacs

    monkeypatch.setenv("PYFACS_OFFLINE", "1")
    monkeypatch.setenv("PYFACS_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYFACS_MODEL_MIRROR", raising=False)
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    t = pyfacs.analyze(tmp_path / "a.png")
    assert [c for c in t.data.columns if c.startswith("AU")][:2] == ["AU01_p", "AU02_p"]
    assert not [c for c in t.data.columns if c.endswith("_r")]  # no invented intensities
    assert any("openface.au-2.2 is unavailable" in r.message for r in caplog.records)
    assert t.data["AU12_p"].iloc[0] > 0.5 and t.data["AU12_c"].iloc[0] == 1  # the astronaut smiles
    from pyfacs.errors import InputError

    with pytest.raises(InputError, match="unknown AU model"):
        pyfacs.Analyzer(au_model="nope")


def test_embedded_model_metadata_matches_its_registry_entry():
    from pyfacs.export.onnx import read_metadata
    from pyfacs.models import get_model
    from pyfacs.models.hub import resolve_one

    spec = get_model("audetnet.ckplus")
    meta = read_metadata(resolve_one(spec))
    assert tuple(meta["labels"]) == spec.labels and "48x48" in meta["input"]


@pytest.mark.data
def test_two_people_are_calibrated_separately(tmp_path, astronaut):
    """OpenFace's dynamic models subtract a person's running median (their neutral baseline); with two
    people in one video, each face_id's baseline must be that person's own, not a mix."""
    shared_path("models", "openface-2.2.0")
    import cv2

    import pyfacs
    from pyfacs.au.openface.predictor import FaceAUState
    from pyfacs.io.media import read_image

    other = cv2.resize(read_image(shared_path("media", "pyfeat", "single_face.jpg")), astronaut.shape[1::-1])
    frames = [np.concatenate([np.roll(astronaut, i, axis=1), np.roll(other, -i, axis=1)], axis=1) for i in range(8)]
    analyzer = pyfacs.Analyzer(au_model="openface.au-2.2", expression_model=None)
    head = analyzer.au_head
    head.begin(video=True)
    own = {0: [], 1: []}
    ids = None
    for i, rgb in enumerate(frames):
        faces = sorted(analyzer.faces(rgb, index=i), key=lambda f: f.box[0])
        ids = ids or [f.face_id for f in faces]
        assert [f.face_id for f in faces] == ids and set(ids) == {0, 1}  # one id per person, stable
        for f in faces:
            head.add(2 * i + f.face_id, f.face_id, rgb, f.lmk68)
            own[f.face_id].append(head.video_head.features(rgb, f.lmk68.astype(np.float64), FaceAUState()))
    medians = {fid: head._tracks[fid].state.hog.value(None) for fid in (0, 1)}
    for fid in (0, 1):
        mine = np.median(np.array(own[fid])[:, :4464], 0)
        theirs = np.median(np.array(own[1 - fid])[:, :4464], 0)
        err_own = np.abs(medians[fid] - mine).mean()
        err_other = np.abs(medians[fid] - theirs).mean()
        assert err_own < 0.1 * err_other  # seen here: 0.003-0.005 vs 0.075 (histogram bins of 0.001)
