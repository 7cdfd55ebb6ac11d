"""OpenDR compatibility of FacialEmotionLearner beyond the end-to-end run: its result objects, what
infer takes and refuses, valence/arousal honesty, and what save/load keep."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")
pytest.importorskip("onnx", reason="needs the train extra (onnx)")

from pyfacs.errors import InputError  # noqa: E402
from pyfacs.expression.learner import Category, FacialEmotionLearner, _dataset_labels  # noqa: E402

RNG = np.random.default_rng(0)
FACES = RNG.integers(0, 255, (6, 48, 48), dtype=np.uint8)


def _learner(tmp_path, **kw) -> FacialEmotionLearner:
    learner = FacialEmotionLearner(device="cpu", temp_path=tmp_path / "tmp", base_path_experiment=tmp_path / "exp",
                                   base_path_to_dataset=tmp_path, batch_size=4, **kw)
    learner.width = 8  # small and fast
    learner.init_model(2)
    return learner


def _affectnet(root, n=8):
    from PIL import Image

    for i in range(n):
        d = root / "Training_Labeled" / str(i % 8)
        d.mkdir(parents=True, exist_ok=True)
        face = RNG.integers(0, 255, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(face).save(d / f"{i:07d}s{i % 8}s{100 * i - 300}s{400 - 50 * i}.jpg")
    return root


def test_category_is_opendrs():
    c = Category(3)  # OpenDR: only the prediction is required
    assert c.data == c.prediction == 3 and c.description is None and c.confidence is None
    assert Category(1, "happy", 0.5) == Category(1, "happy", 0.5) and str(Category(1, "happy", 0.5)) == "happy"


def test_pretrained_valence_arousal_is_nan_not_noise(tmp_path):
    learner = FacialEmotionLearner(device="cpu", temp_path=tmp_path)
    learner.load(path_to_saved_network=learner.download(mode="pretrained"))
    cats, va = learner.infer(FACES[:2])
    assert cats[0].data == cats[0].prediction and torch.isnan(va).all()  # FER2013 taught no valence/arousal


def test_dimensional_finetuning_leaves_the_classes_alone(tmp_path):
    root = _affectnet(tmp_path / "affectnet")
    learner = FacialEmotionLearner(device="cpu", temp_path=tmp_path / "tmp", base_path_to_dataset=root, batch_size=4,
                                   categorical_train=True, dimensional_finetune=True, max_training_epoch=1)
    learner.width = 8
    assert set(learner.fit()) == {"categorical", "dimensional_loss"}
    cats, va = learner.infer(FACES)
    assert torch.isfinite(va).all() and {c.description for c in cats} <= set(learner.labels)
    assert "angry" in learner.labels  # pyfacs's class names for every dataset
    before = np.array([c.confidence for c in cats])
    learner.categorical_train = False
    frozen = {n for n, p in learner.model.named_parameters() if not p.requires_grad}
    learner.fit()  # valence/arousal only: BatchNorm statistics must not follow these batches
    cats2, va2 = learner.infer(FACES)
    assert np.array_equal([c.confidence for c in cats2], before) and not torch.equal(va, va2)
    assert {n for n, p in learner.model.named_parameters() if not p.requires_grad} == frozen
    folder = learner.save(base_path_to_save_model=tmp_path / "saved")
    again = FacialEmotionLearner(device="cpu", temp_path=tmp_path / "t2")
    again.load(path_to_saved_network=folder)
    assert torch.allclose(again.infer(FACES)[1], va2)  # the trained valence/arousal survives save/load


def test_infer_inputs_per_image_and_refusals(tmp_path):
    learner = _learner(tmp_path)
    ref = [c.confidence for c in learner.infer(FACES[:2])[0]]
    mixed = np.stack([FACES[0] / 255.0, FACES[1].astype(np.float64)])  # one in [0, 1], one in [0, 255]
    assert np.allclose([c.confidence for c in learner.infer(mixed)[0]], ref, atol=1e-6)
    rgba_first = np.repeat(FACES[:2, None], 4, 1)  # (n, 4, H, W)
    assert np.allclose([c.confidence for c in learner.infer(rgba_first)[0]], ref, atol=1e-6)
    cats, va = learner.infer([])
    assert cats == [] and tuple(va.shape) == (0, 2)
    bad = FACES[:1].astype(np.float32)
    bad[0, 0, 0] = np.nan
    for x, msg in ((bad, "NaN"), (FACES[:1] / 255.0 - 0.5, r"\[0, 1\] or \[0, 255\]"),
                   (FACES[:1].astype(np.uint16) * 256, "16-bit")):
        with pytest.raises(InputError, match=msg):
            learner.infer(x)
    with pytest.raises(InputError, match="one class index per image"):
        learner.eval(images=FACES[:2], labels=np.zeros((2, 2)))


def test_save_and_load_keep_what_they_should(tmp_path):
    a = _learner(tmp_path, name_experiment="a", diversify=True)
    a.optimize()
    b = _learner(tmp_path, name_experiment="b")
    b.optimize()
    b_folder = b.save(base_path_to_save_model=tmp_path / "b")
    a.name_experiment = "b"
    a.load(path_to_saved_network=b_folder)  # a now holds b (and b's ONNX)
    out = a.save(base_path_to_save_model=tmp_path / "copy")
    assert (out / "b.onnx").read_bytes() == (b_folder / "b.onnx").read_bytes()
    assert json.loads((out / "b.json").read_text())["format"] == "onnx" and a.diversify is False
    c = _learner(tmp_path, name_experiment="c", diversify=True)
    c.save(base_path_to_save_model=tmp_path / "c")
    loaded = FacialEmotionLearner(device="cpu", temp_path=tmp_path, name_experiment="c")
    loaded.load(ensemble_size=1, path_to_saved_network=tmp_path / "c")  # OpenDR: the first k branches
    assert loaded.diversify is True and len(loaded.model.branches) == 1 == loaded.ensemble_size
    (tmp_path / "c" / "c.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot load"):
        loaded.load(path_to_saved_network=tmp_path / "c")
    opendr = tmp_path / "opendr_esr_9"
    opendr.mkdir()
    (opendr / "Net-Base-Shared_Representations.pt").write_bytes(b"")
    with pytest.raises(InputError, match="OpenDR's own ESR weights"):
        loaded.load(path_to_saved_network=opendr)
    with pytest.raises(InputError, match="state_dicts"):
        c.save(state_dicts=[{}, {}], base_path_to_save_model=tmp_path / "d")


def test_a_failed_load_fit_or_eval_leaves_the_learner_as_it_was(tmp_path):
    learner = _learner(tmp_path)
    ref = [c.confidence for c in learner.infer(FACES)[0]]
    broken = learner.save(base_path_to_save_model=tmp_path / "broken")
    (broken / "esr_9.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a weights file"):
        learner.load(path_to_saved_network=broken)
    with pytest.raises(InputError, match="ensemble_size"):
        learner.load(ensemble_size=0, path_to_saved_network=broken)
    fresh = FacialEmotionLearner(device="cpu", temp_path=tmp_path / "t")
    with pytest.raises(InputError, match="cannot load"):
        fresh.load(path_to_saved_network=broken)
    with pytest.raises(InputError, match="no model yet"):  # not a randomly initialised one
        fresh.infer(FACES)
    affectnet = _affectnet(tmp_path / "affectnet")  # 8 classes in another order
    (affectnet / "Training_Labeled").rename(affectnet / "Validation")
    _affectnet(affectnet)
    learner.base_path_to_dataset, learner.categorical_train = affectnet, True
    labels = learner.labels
    with pytest.raises(InputError, match="not the data's"):
        learner.fit()
    with pytest.raises(InputError, match="are not those of"):  # scored against another class order
        learner.eval()
    assert learner.labels == labels and [c.confidence for c in learner.infer(FACES)[0]] == ref
    learner.base_path_to_dataset, learner.lr = tmp_path, -1.0  # a setting refused after the data checks
    with pytest.raises(InputError, match="lr"):
        learner.fit(FACES, np.zeros(len(FACES), int))
    assert [c.confidence for c in learner.infer(FACES)[0]] == ref
    learner.base_path_to_dataset, learner.lr = affectnet, 0.1
    learner.init_model(2)  # as the refusal advised: a new network takes the dataset's classes
    assert learner.labels == _dataset_labels(affectnet) and learner.fit()["categorical"] == "trained"


def test_fit_refuses_what_would_train_nothing(tmp_path):
    learner = _learner(tmp_path, categorical_train=True)
    with pytest.raises(InputError, match="at least 2 images"):  # BatchNorm skips batches of one
        learner.fit(FACES[:1], [0])
    learner.batch_size = 1
    with pytest.raises(InputError, match="batch_size"):
        learner.fit(FACES, np.zeros(len(FACES), int))
    learner.batch_size = np.int64(4)  # numpy's whole numbers are whole numbers
    assert learner.fit(FACES, np.zeros(len(FACES), int)) == {"categorical": "trained"}
    root = _affectnet(tmp_path / "affectnet")
    dims = FacialEmotionLearner(device="cpu", temp_path=tmp_path / "t", base_path_to_dataset=root, batch_size=4,
                                categorical_train=False, dimensional_finetune=True, max_tuning_epoch=0)
    with pytest.raises(InputError, match="nothing to train"):
        dims.fit()
    with pytest.raises(InputError, match="never trained"):  # its RMSE would score untrained layers
        learner.eval("dimensional", images=FACES[:2], labels=np.zeros((2, 2)))


def test_infer_shapes_of_one_image_and_of_a_batch(tmp_path):
    learner = _learner(tmp_path)
    assert len(learner.infer(FACES[0][..., None])[0]) == 1  # (H, W, 1): one grey image, not 48
    with pytest.raises(InputError, match="1, 3 or 4 channels"):
        learner.infer(np.repeat(FACES[0][..., None], 2, -1))
    assert len(learner.infer(torch.from_numpy(FACES[:4]))[0]) == 4  # (4, H, W) tensor: four grey faces
    assert len(learner.infer(torch.from_numpy(np.repeat(FACES[:1], 3, 0)))[0]) == 1  # (3, H, W): one RGB


def test_unwritable_folders_are_one_line_errors(tmp_path):
    learner = _learner(tmp_path)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(InputError, match="cannot save the model into"):
        learner.save(base_path_to_save_model=tmp_path / "a_file" / "sub")
    learner.temp_path = tmp_path / "a_file" / "tmp"
    with pytest.raises(InputError, match="cannot export the model"):
        learner.optimize()
    with pytest.raises(InputError, match="cannot download the model"):
        learner.download(path=tmp_path / "a_file")
    assert learner.ort_session is None and next(learner.model.parameters()).device.type == "cpu"
