"""AU dataset formats: CK+ (real), ME-GraphAU lists (real samples), BP4D/DISFA raw (generated)."""
import numpy as np
import pytest

from conftest import shared_path
from pyfacs.data.au_lists import read_bp4d_occurrence, read_disfa_subject, read_list_fold, read_list_weights
from pyfacs.data.ckplus import load_ckplus, subject_folds
from pyfacs.errors import InputError


@pytest.mark.data
def test_ckplus_78_subjects_and_folds_are_subject_independent():
    ds = load_ckplus(shared_path("data", "ckplus48"))
    assert len(ds) == 654 and len(set(ds.subjects)) == 78
    folds = subject_folds(ds.subjects, 5, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(654))
    sets = [set(ds.subjects[f]) for f in folds]
    assert all(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1:])
    assert ds.select([1, 12]).shape == (654, 2)


@pytest.mark.data
def test_megraphau_list_samples(tmp_path):
    root = shared_path("data", "label_list_samples")
    with pytest.raises(InputError, match="pair line by line"):  # the samples' label lists are cut
        read_list_fold(root, "BP4D", "test", 1)
    assert read_list_weights(root, "DISFA", 1).shape == (8,)
    # the same format, whole: first 5 paths with the 5 labels
    for ds in ("BP4D", "DISFA"):
        paths = (root / f"{ds}_test_img_path_fold1.txt").read_text().splitlines()[:5]
        (tmp_path / f"{ds}_test_img_path_fold1.txt").write_text("\n".join(paths) + "\n")
        (tmp_path / f"{ds}_test_label_fold1.txt").write_text((root / f"{ds}_test_label_fold1.txt").read_text())
        p, y, aus = read_list_fold(tmp_path, ds, "test", 1)
        assert len(p) == 5 and y.shape == (5, len(aus))


def test_bp4d_raw_occurrence(tmp_path):
    f = tmp_path / "F001_T1.csv"
    f.write_text("0,1,2,4\n2440,1,0,9\n2441,0,1,0\n")
    d = read_bp4d_occurrence(f)
    assert list(d.columns) == ["AU01", "AU02", "AU04"] and d.loc[2440, "AU01"] == 1 and np.isnan(d.loc[2440, "AU04"])


def test_disfa_raw_intensities(tmp_path):
    sub = tmp_path / "SN001"
    sub.mkdir()
    (sub / "SN001_au1.txt").write_text("1,0\n2,3\n")
    (sub / "SN001_au12.txt").write_text("1,5\n2,0\n")
    d = read_disfa_subject(sub)
    assert list(d.columns) == ["AU01", "AU12"] and d.loc[2, "AU01"] == 3
    with pytest.raises(InputError):
        read_disfa_subject(tmp_path)
