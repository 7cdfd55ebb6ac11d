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


@pytest.mark.data
@pytest.mark.slow
def test_port_fidelity_on_the_reference_clip():
    """With OpenFace's own landmarks. The issue's bar (r >= 0.98 on every AU) is not met yet; this
    guards the level reached (docs/openface-au.md) so that it can only go up."""
    shared_path("reference", "openface-2.2.0")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from au_vs_openface import port_outputs

    head, ref, reg, pres, _ = port_outputs(static=False)
    rs = [np.corrcoef(reg[:, k], ref[f"{au}_r"])[0, 1] for k, au in enumerate(head.intensity_aus)
          if ref[f"{au}_r"].std() > 0]
    assert np.mean(rs) >= 0.92
    for au in ("AU01", "AU10", "AU23", "AU45"):
        k = head.intensity_aus.index(au)
        assert np.corrcoef(reg[:, k], ref[f"{au}_r"])[0, 1] >= 0.98
    agree = [(pres[:, k] == ref[f"{au}_c"]).mean() for k, au in enumerate(head.presence_aus)]
    assert np.mean(agree) >= 0.96
