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


# --- malformed inputs: one InputError line naming the file, line and column, never a raw error -------

CK_HEADER = "path,folder_emotion,video,frame,subject,number.aus,AU.combination,emotion,valence,AU1,AU4,AU12"


def _ckplus(tmp_path, rows, header=CK_HEADER, images=("a.png", "b.png")):
    for name in images:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "labels.csv").write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return tmp_path


CK_ROWS = ["a.png,happy,S010_006,14,S010,2,6_12,happy,positive,0,0,1",
           "b.png,anger,S011_004,21,S011,2,4_17,anger,negative,0,1,0"]


def _one_line_error(fn, *args, match):
    with pytest.raises(InputError, match=match) as info:
        fn(*args)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_ckplus_generated_folder_loads(tmp_path):
    ds = load_ckplus(_ckplus(tmp_path, CK_ROWS))
    assert ds.aus == [1, 4, 12] and ds.labels.tolist() == [[0, 0, 1], [0, 1, 0]] and ds.labels.dtype == np.int8
    assert ds.subjects.tolist() == ["S010", "S011"] and ds.paths == [tmp_path / "a.png", tmp_path / "b.png"]


@pytest.mark.parametrize("row, match", [
    ("b.png,anger,S011_004,21,S011,2,4_17,anger,negative,0,,0", r"labels\.csv line 3 \(b\.png\), column AU4: empty"),
    ("b.png,anger,S011_004,21,S011,2,4_17,anger,negative,0,2,0", r"line 3 .*column AU4: 2 is not 0 or 1"),
    ("b.png,anger,S011_004,21,S011,2,4_17,anger,negative,0,x,0", r"line 3 .*column AU4: 'x' is not 0 or 1"),
    ("b.png,anger,S011_004,21,,2,4_17,anger,negative,0,1,0", r"line 3, column subject: empty"),
    ("gone.png,anger,S011_004,21,S011,2,4_17,anger,negative,0,1,0",
     r"line 3, column path: the image .*gone\.png does not exist"),
])
def test_ckplus_bad_rows(tmp_path, row, match):
    _one_line_error(load_ckplus, _ckplus(tmp_path, [CK_ROWS[0], row]), match=match)


def test_ckplus_missing_column_and_unreadable_csv(tmp_path):
    no_subject = CK_HEADER.replace(",subject", "")
    rows = [r.replace(",S010,", ",").replace(",S011,", ",") for r in CK_ROWS]
    msg = _one_line_error(load_ckplus, _ckplus(tmp_path, rows, header=no_subject), match="has no subject column")
    assert "path, subject, emotion" in msg
    (tmp_path / "labels.csv").write_text("")
    _one_line_error(load_ckplus, tmp_path, match=r"labels\.csv is empty")
    (tmp_path / "labels.csv").write_text(CK_HEADER + "\n" + CK_ROWS[0] + ",1,1\n")
    _one_line_error(load_ckplus, tmp_path, match=r"labels\.csv line 2: 14 fields where the header has 12")
    (tmp_path / "labels.csv").write_text(CK_HEADER + "\n" + CK_ROWS[0] + "\n\n" + CK_ROWS[1].rsplit(",", 1)[0] + "\n")
    _one_line_error(load_ckplus, tmp_path, match=r"labels\.csv line 4: 11 fields where the header has 12")
    (tmp_path / "labels.csv").write_text(CK_HEADER + "\n" + CK_ROWS[0] + "\n\n" + CK_ROWS[1][:-1] + "\n")
    _one_line_error(load_ckplus, tmp_path, match=r"labels\.csv line 4 \(b\.png\), column AU12: empty")
    rows = [r + ",0" for r in CK_ROWS]  # AU1 and AU01: one AU twice, which would disagree unseen
    _one_line_error(load_ckplus, _ckplus(tmp_path, rows, header=CK_HEADER + ",AU01"), match="two columns for AU 1")


def _bp4d_fold(tmp_path, label_text, n_paths=2):
    (tmp_path / "BP4D_test_img_path_fold1.txt").write_text("".join(f"F001/T1/{i}.jpg\n" for i in range(n_paths)))
    (tmp_path / "BP4D_test_label_fold1.txt").write_text(label_text)
    return tmp_path


ROW12 = "0 0 0 0 1 0 0 0 0 0 1 0\n"


def test_list_fold_valid_and_malformed(tmp_path):
    p, y, aus = read_list_fold(_bp4d_fold(tmp_path, ROW12 + ROW12.replace("0 1", "1 1", 1)), "BP4D", "test", 1)
    assert y.dtype == np.int8 and y.tolist() == [[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0],
                                                 [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0]]
    _one_line_error(read_list_fold, _bp4d_fold(tmp_path, ROW12 + "0 0 0 0 1 0 0 0 0 0 1\n"), "BP4D", "test", 1,
                    match=r"BP4D_test_label_fold1\.txt, line 2: 11 values where 12 are expected")
    _one_line_error(read_list_fold, _bp4d_fold(tmp_path, ROW12 + ROW12.replace("1", "x", 1)), "BP4D", "test", 1,
                    match=r"label_fold1\.txt, line 2, column 5: 'x' is not an integer label")
    _one_line_error(read_list_fold, _bp4d_fold(tmp_path, ROW12 + ROW12.replace("1", "300", 1)), "BP4D", "test", 1,
                    match=r"line 2, column 5: '300' is not an integer label")  # loadtxt(int8) made it 44
    _one_line_error(read_list_fold, _bp4d_fold(tmp_path, ROW12 + ROW12.replace("1", "7", 1)), "BP4D", "test", 1,
                    match=r"line 2, column 5: label 7 \(AU7\) is not 0 or 1")
    _one_line_error(read_list_fold, _bp4d_fold(tmp_path, ""), "BP4D", "test", 1, match=r"label_fold1\.txt is empty")


def test_list_weights_checked(tmp_path):
    aus = "1, 2, 4, 6, 9, 12, 25, 26"
    _one_line_error(read_list_weights, tmp_path, "DISFA", 1, match=r"DISFA_weight_fold1\.txt is missing; .*" + aus)
    w = tmp_path / "DISFA_weight_fold1.txt"
    w.write_text("\t".join(["0.5"] * 7) + "\n")
    _one_line_error(read_list_weights, tmp_path, "DISFA", 1, match=r"holds 7 weights but DISFA labels have 8 AUs")
    w.write_text("\t".join(["0.5"] * 7 + ["abc"]) + "\n")
    _one_line_error(read_list_weights, tmp_path, "DISFA", 1, match=r"weight_fold1\.txt, line 1, column 8: 'abc'")
    w.write_text("\t".join(["0.5"] * 7 + ["nan"]) + "\n")
    _one_line_error(read_list_weights, tmp_path, "DISFA", 1, match=r"line 1, column 8: 'nan' is not a finite number")
    w.write_text("\t".join(["0.5"] * 7 + ["1.25"]) + "\n")
    assert read_list_weights(tmp_path, "DISFA", 1).tolist() == [0.5] * 7 + [1.25]
    _one_line_error(read_list_weights, tmp_path, "CK+", 1, match="dataset must be one of")


@pytest.mark.parametrize("text, match", [
    ("frame,AU1,AU2\n1,0,1\n", r"F001_T1\.csv, line 1, column 2: header 'AU1' is not an AU number"),
    ("0,1,2\n1,0,1\n2,0\n", r"line 3: 2 values where the header has 3"),
    ("0,1,2\n1,0,1\n2,0,\n", r"line 3, column 3 \(AU 2\): '' is not 0, 1 or 9"),  # was NaN ("not coded")
    ("0,1,2\n1,0,1\n2,0,5\n", r"line 3, column 3 \(AU 2\): '5' is not 0, 1 or 9"),
    ("0,1,2\n1,0,1\nx,0,1\n", r"line 3, column 1: 'x' is not a frame number"),
    ("0,1,2\n1,0,1\n1,0,0\n", r"line 3: frame 1 is already on line 2"),
    ("", r"F001_T1\.csv is empty"),
])
def test_bp4d_raw_malformed(tmp_path, text, match):
    (tmp_path / "F001_T1.csv").write_text(text)
    _one_line_error(read_bp4d_occurrence, tmp_path / "F001_T1.csv", match=match)


@pytest.mark.parametrize("au2, match", [
    ("1,2\n2,x\n", r"SN001_au2\.txt, line 2, column 2: 'x' is not an intensity 0-5"),
    ("1,2\n2,7\n", r"SN001_au2\.txt, line 2, column 2: '7' is not an intensity 0-5"),
    ("1,2\n2\n", r"SN001_au2\.txt, line 2: 1 values where 2 are expected"),
    ("", r"SN001_au2\.txt is empty"),
    ("1,2\n", r"SN001_au1\.txt has frame 2 but .*SN001_au2\.txt has not"),  # was a NaN intensity
    ("1,2\n1,3\n", r"SN001_au2\.txt, line 2: frame 1 is already on line 1"),
])
def test_disfa_raw_malformed(tmp_path, au2, match):
    sub = tmp_path / "SN001"
    sub.mkdir()
    (sub / "SN001_au1.txt").write_text("1,0\n2,3\n")
    (sub / "SN001_au2.txt").write_text(au2)
    _one_line_error(read_disfa_subject, sub, match=match)


def test_list_files_with_a_byte_order_mark_and_blank_lines(tmp_path):
    paths = ["F007/T1/643.jpg", "F007/T1/644.jpg"]
    (tmp_path / "BP4D_x_img_path_fold1.txt").write_bytes(("\ufeff" + "\r\n".join(paths)).encode())
    (tmp_path / "BP4D_x_label_fold1.txt").write_bytes(("\ufeff" + "0 " * 11 + "1\n" + "1 " * 12 + "\n").encode())
    got, labels, _ = read_list_fold(tmp_path, "BP4D", "x", 1)
    assert got == paths and labels.tolist()[0][-1] == 1  # (the mark was glued to the first path and label)
    (tmp_path / "BP4D_x_label_fold1.txt").write_text("\n\n" + "0 " * 12 + "\n" + "2 " + "0 " * 11 + "\n")
    with pytest.raises(InputError, match=r"line 4, column 1: label 2 \(AU1\)"):  # the file's line, blanks counted
        read_list_fold(tmp_path, "BP4D", "x", 1)
    (tmp_path / "BP4D_x_label_fold1.txt").write_text("# header\n" + "0 " * 12 + "\n" + "1 " * 12 + "\n")
    with pytest.raises(InputError, match=r"line 1: 2 values where 12 are expected"):  # (was skipped)
        read_list_fold(tmp_path, "BP4D", "x", 1)


def test_ckplus_header_variants_and_emotion_names(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((48, 48), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text("path, subject, emotion, AU1, AU12\na.png, S005, anger, 1, 0\n"
                                         "a.png, S005, contempt, 0, 1\n")
    data = load_ckplus(tmp_path)  # (spaces after the commas, as some editors write them)
    assert data.aus == [1, 12] and data.emotions.tolist() == ["angry", "contempt"] and data.subjects[0] == "S005"
    (tmp_path / "labels.csv").write_text("path,subject,emotion,AU1\n")
    with pytest.raises(InputError, match="holds a header and no rows"):
        load_ckplus(tmp_path)
    (tmp_path / "labels.csv").write_text("path,subject,emotion,AU1,AU1\na.png,S005,anger,1,0\n")
    with pytest.raises(InputError, match="the column AU1 is named twice"):
        load_ckplus(tmp_path)
