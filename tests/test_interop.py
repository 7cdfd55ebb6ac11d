import numpy as np

from conftest import shared_path
from pyfacs.io.interop import read_openface_csv


def test_openface_reference_csv_maps_to_pyfacs_columns():
    t = read_openface_csv(shared_path("reference", "openface-2.2.0", "dynamic", "2015-10-15-15-14.csv"))
    d = t.data
    assert len(d) == 842 and d["frame"].iloc[0] == 0 and d["timestamp_s"].iloc[1] == 0.033
    assert t.landmarks_array.shape == (842, 68, 2)
    assert d["pose_yaw_deg"].abs().max() < 90 and "AU12_r" in d and "p_scale" in d


def test_pyfeat_openface_csv_reads():
    t = read_openface_csv(shared_path("interop", "pyfeat_tests", "OpenFace_Test.csv"))
    assert len(t) > 0 and np.isfinite(t.data["lmk68_x_30"]).any()
