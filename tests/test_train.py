"""Training runner: config validation, metrics, determinism, resume, ONNX export parity."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import au_sequence_config, shared_path

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")

from pyfacs.errors import InputError  # noqa: E402
from pyfacs.train.config import load_config  # noqa: E402
from pyfacs.train.metrics import icc3_1, presence_metrics  # noqa: E402


def test_config_errors_name_the_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\ndata: {root: .}\noptim: {epochs: 0}\n")
    with pytest.raises(InputError, match="optim.epochs"):
        load_config(p)
    p.write_text("name: x\ndata: {root: ., typo_key: 1}\n")
    with pytest.raises(InputError, match="typo_key"):
        load_config(p)
    p.write_text("name: x\ndata: {root: .}\noptim: {epochs: 2}\nseed: 1\noptim:\n  lr: 0.05\n")
    with pytest.raises(InputError, match=r"line 5, column 1\): the key 'optim' is given twice"):
        load_config(p)  # (plain YAML keeps the last: the first optim's epochs were dropped unseen)
    for text, key in (("name: ../../escaped\ndata: {root: .}\n", ": name: a run name cannot"),  # it would leave runs/
                      ("name: ''\ndata: {root: .}\n", ": name: a run name cannot"),
                      ("name: x\ndata: {root: .}\noptim: {lr: .inf}\n", ": optim.lr: ")):
        p.write_text(text)
        with pytest.raises(InputError, match=key):
            load_config(p)
    p.write_text("name: my run+va\ndata: {root: ~/ck}\n")  # (spaces and + are fine in a folder's name)
    assert load_config(p).data.root == str(Path("~/ck").expanduser())  # the user's folder, not ./~/ck


def test_a_runs_json_and_yaml_files_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from pyfacs.train.budget import write_text_atomically

    target = tmp_path / "metrics.json"
    write_text_atomically(target, '{"accuracy": 0.7}')
    real = Path.write_text

    def cut(self, text, *a, **kw):  # Ctrl-C (or a full disk) halfway through the write
        real(self, text[:5], *a, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", cut)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomically(target, '{"accuracy": 0.8}')
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"accuracy": 0.7} and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_checkpoints_are_written_whole_or_not_at_all_and_a_damaged_one_is_named(tmp_path):
    from pyfacs.train.budget import epoch_saver, load_checkpoint, save_atomically

    ckpt = tmp_path / "fold0.ckpt"
    epoch_saver(ckpt, 3, None)(0, {"w": torch.ones(3)})

    class Interrupted(BaseException):
        pass

    def cut(f):
        f.write(b"half a check")
        raise Interrupted

    with pytest.raises(Interrupted):
        save_atomically(ckpt, cut)  # as Ctrl-C mid-write
    assert load_checkpoint(ckpt)["epoch"] == 0 and [p.name for p in tmp_path.iterdir()] == ["fold0.ckpt"]
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # cut by something else
    with pytest.raises(InputError, match="fold0.ckpt is damaged .*delete it"):
        load_checkpoint(ckpt)

    def disk_full(f):
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match="cannot write .*x.ckpt \\(No space left on device\\); free some space"):
        save_atomically(tmp_path / "x.ckpt", disk_full)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fold0.ckpt"]


def test_a_config_trains_what_its_task_says(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\ntask: expression\ndata: {root: .}\n")
    cfg = load_config(p)  # unset format and kind follow the task
    assert (cfg.data.format, cfg.model.kind) == ("fer2013", "esr")
    for body, needle in [("task: expression\ndata: {root: .}\nmodel: {kind: mefarg}", "not fer2013 with mefarg"),
                         ("task: au-presence\ndata: {format: fer2013, root: .}", "not fer2013 with mefarg"),
                         ("data: {root: ., only_folds: [7]}", "only_folds must lie in 0..4"),
                         ("data: {root: ., only_folds: []}", "only_folds: List should have at least 1"),
                         ("data: {root: ., aus: []}", "data.aus: List should have at least 1"),
                         ("data: {root: ., aus: [4, 4, 7]}", "lists an AU twice"),
                         ("seed: -1\ndata: {root: .}", "seed: Input should be greater than or equal to 0"),
                         ("export_full: true\nmodel: {kind: hog-linear}\ndata: {root: .}", "not exported"),
                         ("data: {root: .", r"not valid YAML \(line 3, column 1\)")]:
        p.write_text(f"name: x\n{body}\n")
        with pytest.raises(InputError, match=needle):
            load_config(p)


def test_a_run_directory_resumes_only_its_own_config(tmp_path):
    from pyfacs.train.runner import _check_run_dir

    p = tmp_path / "c.yaml"
    p.write_text("name: x\ndata: {root: .}\noptim: {epochs: 3}\n")
    cfg = load_config(p)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    import yaml

    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    _check_run_dir(run_dir, cfg)  # the same config resumes
    cfg.optim.epochs = 2
    with pytest.raises(InputError, match=r"optim.epochs: 3 there, 2 now"):
        _check_run_dir(run_dir, cfg)
    with pytest.raises(InputError, match="is a file"):
        _check_run_dir(p, cfg)


def test_icc_and_f1():
    a = np.array([1.0, 2, 3, 4, 5])
    assert icc3_1(a, a) == pytest.approx(1.0)
    assert icc3_1(a, a + 2) == pytest.approx(1.0)  # consistency ICC ignores a constant offset
    assert icc3_1(a, a[::-1]) < 0
    m = presence_metrics(np.array([[1], [0], [1], [0]]), np.array([[0.9], [0.2], [0.4], [0.1]]), ["AU01"])
    assert m["per_au"]["AU01"]["f1"] == pytest.approx(2 / 3) and m["per_au"]["AU01"]["auc"] == 1.0
    # an AU that never occurs has no F1 (not 0) and stays out of the mean
    m = presence_metrics(np.array([[1, 0], [0, 0], [1, 0], [0, 0]]), np.array([[0.9, 0.1], [0.2, 0.1], [0.4, 0.1], [0.1, 0.1]]),
                         ["AU01", "AU02"])
    assert m["per_au"]["AU02"]["f1"] is None and m["mean_f1"] == pytest.approx(2 / 3)
    assert m["aus_without_positives"] == ["AU02"] and m["per_au"]["AU02"]["accuracy"] == 1.0


@pytest.mark.data
@pytest.mark.slow
def test_smoke_config_is_deterministic_and_resumes(tmp_path):
    shared_path("data", "ckplus48")
    from pathlib import Path

    from pyfacs.train.runner import run

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke" / "mefarg_ckplus_smoke.yaml")
    m1 = run(cfg, tmp_path / "a")
    m2 = run(cfg, tmp_path / "b")
    assert (tmp_path / "a" / "metrics.json").read_bytes() == (tmp_path / "b" / "metrics.json").read_bytes()
    prov = json.loads((tmp_path / "a" / "provenance.json").read_text())
    assert len(prov["data_fingerprint"]) == 64 and prov["n_images"] == 120
    # resume: a finished fold is not trained again, and the metrics come out the same
    first = (tmp_path / "a" / "metrics.json").read_bytes()
    (tmp_path / "a" / "metrics.json").unlink()
    (tmp_path / "a" / "provenance.json").write_text(json.dumps({**prov, "git_commit": "0ld"}))  # folds done then
    run(cfg, tmp_path / "a")
    assert (tmp_path / "a" / "metrics.json").read_bytes() == first
    resumed = json.loads((tmp_path / "a" / "provenance.json").read_text())
    assert resumed["git_commit"] == "0ld" and resumed["resumed_at"] == [prov["git_commit"]]
    assert m1["cv"]["mean_f1"] == m2["cv"]["mean_f1"]


def test_onnx_export_matches_torch(tmp_path):
    pytest.importorskip("onnx", reason="needs the train extra (onnx)")
    from pyfacs.au.anfl import MEFARG
    from pyfacs.export.onnx import PARITY_ATOL, export_onnx, read_metadata

    torch.manual_seed(0)
    m = MEFARG(n_main_aus=5, n_sub_aus=0, n_neighbors=2, in_chans=1, width=8, small_input=True).eval()
    diff = export_onnx(m, tmp_path / "m.onnx", input_shape=(1, 1, 48, 48), metadata={"labels": ["AU01"] * 5})
    assert diff <= PARITY_ATOL
    assert read_metadata(tmp_path / "m.onnx")["labels"] == ["AU01"] * 5


SMOKE = sorted(p.name for p in (Path(__file__).resolve().parents[1] / "configs" / "smoke").glob("*.yaml"))
NEEDS = {"ckplus": ("data", "ckplus48"), "fer2013": ("data", "fer2013"),
         "video-labels": ("reference", "openface-2.2.0")}  # the shared data each format reads


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("config", SMOKE)
def test_smoke_configs_reproduce(tmp_path, config):
    """Every config under configs/smoke/: trained, then `pyfacs reproduce` re-runs it and finds
    metrics.json identical."""
    import subprocess
    import sys

    import yaml

    cfg = Path(__file__).resolve().parents[1] / "configs" / "smoke" / config
    shared_path(*NEEDS[yaml.safe_load(cfg.read_text())["data"]["format"]])
    run = [sys.executable, "-m", "pyfacs.cli"]
    res = subprocess.run(run + ["train", str(cfg), "--run-dir", str(tmp_path / "r")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(run + ["reproduce", str(tmp_path / "r")], capture_output=True, text=True)
    assert res.returncode == 0 and "identical" in res.stdout, res.stderr


def test_float16_weights_keep_the_outputs(tmp_path):
    from pyfacs.expression.esr import ESR, ESRVote
    from pyfacs.export.onnx import export_onnx, halve_weights

    torch.manual_seed(0)
    path = tmp_path / "m.onnx"
    export_onnx(ESRVote(ESR(2, width=8), flip_average=True), path, input_shape=(1, 1, 48, 48), metadata={})
    size = path.stat().st_size
    assert halve_weights(path) < 2e-3 and path.stat().st_size < 0.6 * size


def test_int8_export_keeps_the_outputs_and_a_cut_ensemble_is_its_first_branches(tmp_path):
    from pyfacs.expression.esr import ESR, ESRVote
    from pyfacs.export.onnx import export_onnx, quantize_int8

    torch.manual_seed(0)
    model = ESR(3, width=8).eval()
    x = torch.rand(4, 1, 48, 48) - 0.5
    with torch.no_grad():
        full = ESRVote(model)(x)
        first = torch.softmax(model(x)[0][:, :2], -1).mean(1)
    with torch.no_grad():
        cut = ESRVote(model.keep_first(2))(x)
    assert len(model.branches) == 2 and torch.allclose(cut[:, :7], first, atol=1e-6)
    assert not torch.allclose(cut, full)
    path = tmp_path / "m.onnx"
    export_onnx(ESRVote(model), path, input_shape=(1, 1, 48, 48), metadata={"name": "m"})
    size = path.stat().st_size
    calibration = (np.random.default_rng(0).random((64, 1, 48, 48)) - 0.5).astype(np.float32)
    change = quantize_int8(path, calibration)
    assert change["max_abs_diff"] < 0.05 and path.stat().st_size < 0.5 * size
    from pyfacs.export.onnx import read_metadata

    assert read_metadata(path)["name"] == "m" and "int8" in read_metadata(path)
    import onnxruntime as ort

    probs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": calibration})[0]
    assert np.allclose(probs[:, :7].sum(1), 1, atol=1e-5)  # the convolutions are int8, the vote float
    with pytest.raises(ValueError, match="keep 1 to 2"):
        model.keep_first(3)


def test_int8_is_checked_on_held_out_inputs_and_a_failed_check_keeps_the_float_model(tmp_path):
    from pyfacs.expression.esr import ESR, ESRVote
    from pyfacs.export.onnx import export_onnx, quantize_int8

    torch.manual_seed(0)
    path = tmp_path / "m.onnx"
    export_onnx(ESRVote(ESR(2, width=8).eval()), path, input_shape=(1, 1, 48, 48), metadata={"name": "m"})
    float_bytes = path.read_bytes()
    rng = np.random.default_rng(0)
    calibration, held = ((rng.random((2, 32, 1, 48, 48)) - 0.5).astype(np.float32))
    change = quantize_int8(path, calibration, held_out=held)
    assert change["held_out_images"] == 32 and change["held_out_label_agreement"] >= 0.95
    path.write_bytes(float_bytes)
    with pytest.raises(RuntimeError, match="keeps the top class of only"):
        quantize_int8(path, calibration, held_out=held, min_agreement=1.01)  # a bar no model can pass
    assert path.read_bytes() == float_bytes


def test_an_export_whose_outputs_are_not_finite_is_refused(tmp_path):
    from pyfacs.export.onnx import export_onnx

    class Broken(torch.nn.Module):
        def forward(self, x):
            return torch.sqrt(x.flatten(1)[:, :3] - 1.0)  # NaN for inputs below 1

    with pytest.raises(RuntimeError, match="b.onnx: the PyTorch model's own outputs are not all finite"):
        export_onnx(Broken(), tmp_path / "b.onnx", input_shape=(1, 1, 4, 4), metadata={})
    assert list(tmp_path.iterdir()) == []  # nothing left under the final name, nor half-written


@pytest.mark.data
@pytest.mark.parametrize("schedule", ["one-cycle", "swa"])
def test_a_time_budget_pauses_at_an_epoch_end_and_the_resumed_run_equals_an_uninterrupted_one(tmp_path, schedule):
    from pyfacs.train.budget import TrainingPaused
    from pyfacs.train.runner import run

    shared_path("data", "fer2013")
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke" / "esr_fer2013_smoke.yaml")
    cfg.optim.epochs, cfg.optim.schedule, cfg.optim.min_lr = 2, schedule, 1e-5  # swa: the mean is resumed too
    with pytest.raises(TrainingPaused, match="after epoch 1 of 2"):
        run(cfg, tmp_path / "paused", minutes=0)
    assert (tmp_path / "paused" / "checkpoint.pt").is_file() and not (tmp_path / "paused" / "metrics.json").exists()
    resumed = run(cfg, tmp_path / "paused", minutes=0)  # the last epoch: nothing left to pause for
    whole = run(cfg, tmp_path / "whole")
    assert resumed == whole


def test_a_warm_start_copies_the_kept_branches_and_refuses_weights_that_do_not_fit(tmp_path):
    from pyfacs.expression.esr import ESR
    from pyfacs.train.expression import load_initial_weights

    torch.manual_seed(0)
    source = ESR(3, width=8)
    saved = tmp_path / "model.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in source.state_dict().items()}, saved)
    target = ESR(2, width=8)
    digest = load_initial_weights(target, str(saved))
    assert len(digest) == 64
    for key, value in target.state_dict().items():
        assert torch.equal(value, source.state_dict()[key].half().float()), key
    with pytest.raises(InputError, match="does not fit this model"):
        load_initial_weights(ESR(4, width=8), str(saved))  # a fourth branch the file lacks
    with pytest.raises(InputError, match="does not exist"):
        load_initial_weights(target, str(tmp_path / "missing.pt"))
    from pyfacs.train.expression import run_expression

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke" / "esr_fer2013_smoke.yaml")
    cfg.model.init, cfg.data.root = str(tmp_path / "missing.pt"), str(tmp_path / "no-data-here")
    with pytest.raises(InputError, match="model.init: .*missing.pt does not exist"):  # before the data (minutes)
        run_expression(cfg, tmp_path, {})


def test_a_warm_start_from_a_registered_model_loads_its_shipped_weights():
    from pyfacs.expression.esr import ESR
    from pyfacs.train.expression import load_initial_weights

    model = ESR(2, width=32)
    load_initial_weights(model, "esr9.fer2013")
    shipped = torch.load(Path(__file__).resolve().parents[1] / "src/pyfacs/models/data/esr9.fer2013.pt",
                         weights_only=True)
    assert torch.equal(model.branches[1].fc.weight, shipped["branches.1.fc.weight"].float())


def test_weight_averaging_takes_the_mean_of_the_cycle_ends_then_re_estimates_batchnorm():
    from pyfacs.expression.esr import ESR
    from pyfacs.train.augment import to_tensor
    from pyfacs.train.expression import average_weights

    torch.manual_seed(0)
    first, second = ESR(2, width=8), ESR(2, width=8)
    expected = (first.base.net[0][0].weight + second.base.net[0][0].weight) / 2
    images = np.random.default_rng(0).integers(0, 256, (40, 48, 48), dtype=np.uint8)
    average_weights(first, [second.state_dict()], images)
    assert torch.allclose(first.base.net[0][0].weight, expected)
    assert not first.training
    # the first BatchNorm's statistics are those of the averaged first convolution over all the images
    with torch.no_grad():
        conv = first.base.net[0][0](to_tensor(images))
    bn = first.base.net[0][1]
    assert torch.allclose(bn.running_mean, conv.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(bn.running_var, conv.var((0, 2, 3)), rtol=1e-3)


def test_average_with_paths_are_relative_to_the_config(tmp_path):
    config = tmp_path / "esr.yaml"
    config.write_text("name: x\ntask: expression\ndata: {format: fer2013, root: data}\n"
                      "model: {kind: esr, average_with: [runs/a/model.pt, esr9.fer2013]}\n")
    cfg = load_config(config)
    assert cfg.model.average_with == [str(tmp_path / "runs/a/model.pt"), "esr9.fer2013"]


@pytest.mark.data
def test_a_run_averages_its_weights_with_an_earlier_runs_and_a_missing_file_fails_before_training(tmp_path):
    from pyfacs.train.runner import run

    shared_path("data", "fer2013")
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke" / "esr_fer2013_smoke.yaml")
    run(cfg, tmp_path / "first")
    cfg.model.average_with = [str(tmp_path / "missing.pt")]
    with pytest.raises(InputError, match="model.average_with: .* does not exist"):
        run(cfg, tmp_path / "bad")
    assert not (tmp_path / "bad" / "checkpoint.pt").exists()
    cfg.model.average_with = [str(tmp_path / "first" / "model.pt")]
    metrics = run(cfg, tmp_path / "averaged")
    assert 0 <= metrics["val"]["ensemble_accuracy_before_average"] <= 1
    provenance = json.loads((tmp_path / "averaged" / "provenance.json").read_text())
    assert len(provenance["average_with_sha256"]) == 1


def test_the_swa_schedule_anneals_every_epoch_and_returns_the_mean_of_the_epoch_ends():
    from pyfacs.expression.esr import ESR
    from pyfacs.train.config import TrainConfig
    from pyfacs.train.expression import _EpochCosine, fit_esr

    cosine = _EpochCosine(5, 0.05)
    assert [round(cosine(s), 6) for s in (0, 4, 5, 9)] == [1.0, 0.05, 1.0, 0.05]
    assert 0.05 < cosine(2) < 1.0
    cfg = TrainConfig(name="x", task="expression", data={"format": "fer2013", "root": "."},
                      model={"kind": "esr", "ensemble_size": 2, "width": 8},
                      optim={"epochs": 3, "batch_size": 16, "lr": 0.05, "min_lr": 0.001, "schedule": "swa"})
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (48, 48, 48), dtype=np.uint8), rng.integers(0, 7, 48)
    ends = []
    model = ESR(2, width=8)
    mean = fit_esr(model, images, labels, cfg,
                   on_epoch=lambda epoch, state: ends.append({k: v.clone() for k, v in state["model"].items()}))
    assert len(ends) == 3 and not torch.equal(ends[0]["base.net.0.0.weight"], ends[2]["base.net.0.0.weight"])
    for key, value in mean.items():
        torch.testing.assert_close(value, torch.stack([e[key].float() for e in ends]).mean(0))
    cfg.optim.schedule = "one-cycle"
    assert fit_esr(ESR(2, width=8), images, labels, cfg) is None


def test_swa_needs_min_lr_below_lr(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: x\ntask: expression\ndata: {format: fer2013, root: .}\n"
                      "optim: {schedule: swa, lr: 0.01, min_lr: 0.01}\n")
    with pytest.raises(InputError, match="optim.min_lr .* must be below optim.lr"):
        load_config(config)


@pytest.mark.parametrize("augment", ["shift-flip", "affine"])
def test_guided_training_runs_with_either_augmentation(augment):
    """AU-cue guidance moves each face's landmarks with its augmentation, whichever is chosen."""
    from pyfacs.expression.esr import ESR
    from pyfacs.train.config import TrainConfig
    from pyfacs.data.fer2013 import LABELS
    from pyfacs.train.expression import fit_esr

    cfg = TrainConfig(name="x", task="expression", data={"format": "fer2013", "root": ".", "landmarks": "l.npz"},
                      model={"kind": "esr", "ensemble_size": 2, "width": 8, "guidance": 0.5},
                      optim={"epochs": 1, "batch_size": 16, "augment": augment})
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (32, 48, 48), dtype=np.uint8), rng.integers(0, 7, 32)
    landmarks = (rng.random((32, 68, 2)) * 30 + 9).astype(np.float32)
    model = ESR(2, width=8)
    before = model.state_dict()["base.net.0.0.weight"].clone()
    fit_esr(model, images, labels, cfg, landmarks=landmarks, label_names=LABELS)
    assert not torch.equal(before, model.state_dict()["base.net.0.0.weight"])


@pytest.mark.data
@pytest.mark.slow
def test_a_resumed_cross_validation_equals_an_uninterrupted_one(tmp_path):
    """Each fold's weights come from the random state the previous fold left; a run resumed after
    fold 0 (a new process: the state is restored from fold0_rng.pt) must draw the same."""
    from pyfacs.train.runner import run

    shared_path("data", "ckplus48")
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke" / "mefarg_ckplus_smoke.yaml")
    cfg.data.only_folds, cfg.optim.epochs, cfg.export_full = [0, 1], 1, True
    whole = run(cfg, tmp_path / "r")
    onnx = (tmp_path / "r" / "model.onnx").read_bytes()
    for f in ("fold1_pred.npy", "fold1_rng.pt", "fold1.ckpt", "metrics.json", "model.onnx", "final.ckpt"):
        (tmp_path / "r" / f).unlink()
    assert json.dumps(run(cfg, tmp_path / "r")) == json.dumps(whole)
    # resumed after every fold was done (killed in the final training): the final model is drawn
    # from the random state the last fold left, as in an uninterrupted run
    for f in ("metrics.json", "model.onnx", "final.ckpt"):
        (tmp_path / "r" / f).unlink()
    assert json.dumps(run(cfg, tmp_path / "r")) == json.dumps(whole)
    assert (tmp_path / "r" / "model.onnx").read_bytes() == onnx


def test_a_run_refused_before_training_leaves_nothing_and_a_changed_input_is_refused(tmp_path):
    from pyfacs.train.runner import _check_same_inputs, run

    p = tmp_path / "c.yaml"
    p.write_text("name: x\ndata: {root: missing_folder}\nmodel: {kind: hog-linear}\n")
    with pytest.raises(InputError):
        run(load_config(p), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # the corrected config may use the same run directory
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "provenance.json").write_text(json.dumps({"data_fingerprint": "a", "cfg_sha256": "b"}))
    _check_same_inputs(tmp_path / "old", {"data_fingerprint": "a", "cfg_sha256": "b"})  # the same: resumes
    with pytest.raises(InputError, match="the model.cfg file changed"):
        _check_same_inputs(tmp_path / "old", {"data_fingerprint": "a", "cfg_sha256": "c"})
    with pytest.raises(InputError, match="the data changed"):
        _check_same_inputs(tmp_path / "old", {"data_fingerprint": "z", "cfg_sha256": "b"})
    (tmp_path / "old" / "provenance.json").write_text(json.dumps({"init_sha256": "a", "landmarks_fingerprint": "b"}))
    with pytest.raises(InputError, match="the model.init weights changed"):
        _check_same_inputs(tmp_path / "old", {"init_sha256": "c", "landmarks_fingerprint": "b"})
    # a folder that holds something else is no run directory: its files would be overwritten
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "metrics.json").write_text('{"precious": 1}')
    with pytest.raises(InputError, match="holds other files and no run"):
        run(load_config(p), tmp_path / "mine")
    assert (tmp_path / "mine" / "metrics.json").read_text() == '{"precious": 1}'


def _run_dir_started_with(tmp_path, config_text: str):
    """A run directory holding the resolved config of ``config_text``; returns that config."""
    import yaml

    p = tmp_path / "c.yaml"
    p.write_text(config_text)
    cfg = load_config(p)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump()))
    return cfg


def test_a_changed_thread_count_is_another_run_and_cfg_files_are_read_kindly(tmp_path):
    from pyfacs.au.audetnet.cfg import load_cfg
    from pyfacs.train.runner import _check_run_dir

    cfg = _run_dir_started_with(tmp_path, "name: x\nthreads: 2\ndata: {root: .}\nmodel: {kind: hog-linear}\n")
    p = tmp_path / "c.yaml"
    cfg.threads = 1  # (CPU sums round differently: the finished folds would not be this config's)
    with pytest.raises(InputError, match="threads: 2 there, 1 now"):
        _check_run_dir(tmp_path / "run", cfg)
    p.write_text("name: x\ndata: {root: .}\nmodel: {kind: audetnet, cfg: nope.cfg}\n")
    with pytest.raises(InputError, match="model.cfg .*nope.cfg does not exist"):
        load_config(p)
    shipped = Path(__file__).resolve().parents[1] / "configs" / "au" / "audetnet_ckplus.cfg"
    real = shipped.read_text()
    (tmp_path / "bom.cfg").write_text("\ufeff" + real, encoding="utf-8")  # as Windows Notepad saves it
    assert str(load_cfg(tmp_path / "bom.cfg").sections) == str(load_cfg(shipped).sections).replace(str(shipped), str(tmp_path / "bom.cfg"))
    (tmp_path / "latin.cfg").write_bytes(real.encode() + "# café\n".encode("latin-1"))
    with pytest.raises(InputError, match="not a text file"):
        load_cfg(tmp_path / "latin.cfg")


def test_an_audetnet_config_takes_its_recipe_from_the_cfg_file(tmp_path):
    cfg_text = (Path(__file__).resolve().parents[1] / "configs" / "au" / "audetnet_ckplus.cfg").read_text()
    assert "max_epochs=30" in cfg_text
    (tmp_path / "a.cfg").write_text(cfg_text.replace("max_epochs=30", "max_epochs=7"))
    p = tmp_path / "c.yaml"
    p.write_text("name: x\ndata: {root: .}\nmodel: {kind: audetnet, cfg: a.cfg}\n")
    assert load_config(p).optim.epochs == 7  # the cfg's max_epochs, written into the resolved config
    p.write_text(p.read_text() + "optim: {epochs: 2, lr: 0.1}\n")
    with pytest.raises(InputError, match="optim.lr: AUDetNet takes its training settings"):
        load_config(p)


def test_a_labels_file_without_rows_and_a_mean_f1_without_positives_are_said_plainly(tmp_path):
    from pyfacs.cli import _score
    from pyfacs.train.config import DataConfig
    from pyfacs.train.data import prepare

    columns = "path,folder_emotion,video,frame,subject,number.aus,AU.combination,emotion,valence,AU1,AU2"
    (tmp_path / "labels.csv").write_text(columns + "\n")
    with pytest.raises(InputError, match="labels.csv holds a header and no rows"):
        prepare(DataConfig(root=str(tmp_path)), 48)
    assert _score(None) == "n/a (no AU has a positive)" and _score(0.51234) == "0.512"


def test_data_moved_elsewhere_resumes_but_an_input_added_is_another_config(tmp_path):
    from pyfacs.train.runner import _check_run_dir

    cfg = _run_dir_started_with(tmp_path, "name: x\ntask: expression\ndata: {root: here}\n")
    cfg.data.root = str(tmp_path / "moved")  # the same data (its fingerprint is compared on resume)
    _check_run_dir(tmp_path / "run", cfg)
    cfg.model.init = "esr9.fer2013"  # weights the finished epochs did not start from
    with pytest.raises(InputError, match="model.init: None there, esr9.fer2013 now"):
        _check_run_dir(tmp_path / "run", cfg)


def test_a_file_system_failure_while_training_is_one_line_and_keeps_the_run(tmp_path, monkeypatch):
    import errno

    from pyfacs.train import runner

    p = tmp_path / "c.yaml"
    p.write_text("name: x\ndata: {root: .}\nmodel: {kind: hog-linear}\n")

    def full_disk(cfg, run_dir, torch, deadline):
        (run_dir / "fold0_pred.npy").write_bytes(b"done")  # work finished before the failure
        raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "metrics.json"))

    monkeypatch.setattr(runner, "_train", full_disk)
    with pytest.raises(InputError, match=r"training stopped: .*metrics.json: No space left on device; free some "
                                         r"space, or choose another --run-dir \(what the run finished is kept"):
        runner.run(load_config(p), tmp_path / "run")
    assert (tmp_path / "run" / "fold0_pred.npy").is_file()

    def missing_image(cfg, run_dir, torch, deadline):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/ck/S005.png")

    monkeypatch.setattr(runner, "_train", missing_image)
    with pytest.raises(InputError, match=r"S005.png: No such file or directory; check that file \(nothing was "
                                         r"trained yet\)"):
        runner.run(load_config(p), tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()

    def bug(cfg, run_dir, torch, deadline):
        raise OSError("not the file system's")  # (no errno: a bug stays an internal error)

    monkeypatch.setattr(runner, "_train", bug)
    with pytest.raises(OSError, match="not the file system's"):
        runner.run(load_config(p), tmp_path / "run")


def test_reproduce_names_what_changed():
    from pyfacs.train.runner import metric_differences

    old = {"cv": {"mean_f1": 0.5, "per_au": {"AU01": {"f1": 0.4}}}, "fold_mean_f1": {"0": 0.5}, "x": [1, 2]}
    assert metric_differences(old, json.loads(json.dumps(old))) == []
    new = {"cv": {"mean_f1": 0.51, "per_au": {"AU01": {"f1": 0.4}}}, "fold_mean_f1": {"0": 0.5}, "x": [1, 3]}
    assert metric_differences(old, new) == ["cv.mean_f1: 0.5 there, 0.51 now", "x.1: 2 there, 3 now"]
    assert metric_differences({"auc": float("nan")}, {"auc": float("nan")}) == []  # (an AU with one class)


@pytest.mark.data
def test_a_time_budget_pauses_between_folds_rather_than_start_the_next_one(tmp_path):
    from pyfacs.train.budget import TrainingPaused
    from pyfacs.train.runner import run

    shared_path("data", "ckplus48")
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke" / "mefarg_ckplus_smoke.yaml")
    cfg.data.only_folds, cfg.optim.epochs = [0, 1], 1
    with pytest.raises(TrainingPaused, match="after fold 0"):  # (fold 0's one epoch was its last)
        run(cfg, tmp_path / "paused", minutes=0)
    assert (tmp_path / "paused" / "fold0_pred.npy").is_file() and not (tmp_path / "paused" / "fold1.ckpt").exists()
    assert json.dumps(run(cfg, tmp_path / "paused", minutes=0)) == json.dumps(run(cfg, tmp_path / "whole"))




def test_au_sequence_data_that_cannot_split_is_one_line_and_a_cut_feature_cache_is_recomputed(tmp_path, face_video,
                                                                                              monkeypatch):
    from pyfacs.train.runner import run

    labels = tmp_path / "labels.csv"
    labels.write_text("frame,AU12,AU15\n" + "".join(f"{i},{i % 2},{'' if i >= 20 else (i // 2) % 2}\n"
                                                    for i in range(40)))
    for fraction, message in ((0.99, "leaves 40 for training and 0 for testing"),
                              (0.5, "label 'AU15' has no annotated frame .* among the 20 test frames")):
        cfg_file = tmp_path / "c.yaml"
        cfg_file.write_text(au_sequence_config(face_video, labels, fraction=fraction, d_model=8, epochs=1, tail="export_full: false\n"))
        with pytest.raises(InputError, match=message):
            run(load_config(cfg_file), tmp_path / "refused")
        assert not (tmp_path / "refused").exists()  # its features.npz would block the corrected run
    labels.write_text("frame,AU12,AU15\n" + "".join(f"{i},{i % 2},{(i // 2) % 2}\n" for i in range(40)))
    cfg_file.write_text(au_sequence_config(face_video, labels, d_model=8, epochs=1, tail="export_full: false\n"))
    first = run(load_config(cfg_file), tmp_path / "a")
    (tmp_path / "a" / "metrics.json").unlink()
    with open(tmp_path / "a" / "features.npz", "r+b") as f:
        f.truncate(1000)  # cut short
    assert run(load_config(cfg_file), tmp_path / "a") == first
    from pyfacs.train import sequence

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sequence, "fit_predict", interrupted)  # Ctrl-C once the features are computed
    with pytest.raises(KeyboardInterrupt):
        run(load_config(cfg_file), tmp_path / "b")
    assert (tmp_path / "b" / "features.npz").is_file()  # kept, to resume from


def test_an_int8_export_is_always_checked_on_as_many_other_images(tmp_path):
    pytest.importorskip("onnx", reason="needs the train extra (onnx)")
    from pyfacs.expression.esr import ESR
    from pyfacs.train.expression import export_expression

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke" / "esr_fer2013_smoke.yaml")
    cfg.model.export_int8, cfg.model.width, cfg.model.ensemble_size = 20, 8, 2
    torch.manual_seed(0)
    torch.save(ESR(2, width=8).state_dict(), tmp_path / "model.pt")
    images = np.random.default_rng(0).integers(0, 256, (40, 48, 48), dtype=np.uint8)
    with pytest.raises(InputError, match="needs 40 Training images .* not 39"):  # (was: checked on 19, or on 1)
        export_expression(tmp_path, cfg, "fingerprint", images[:39])
    assert not (tmp_path / "model.onnx").exists()  # refused before anything is written
    export_expression(tmp_path, cfg, "fingerprint", images)
    assert json.loads((tmp_path / "int8.json").read_text())["held_out_images"] == 20


def test_a_run_whose_int8_export_could_not_be_checked_is_refused_before_training(tmp_path):
    shared_path("data", "fer2013")
    from pyfacs.train.runner import run

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "smoke" / "esr_fer2013_smoke.yaml")
    cfg.export_full, cfg.model.export_int8, cfg.data.limit = True, 300, 512  # 600 needed, 512 there
    with pytest.raises(InputError, match="need 600 Training images, not 512"):
        run(cfg, tmp_path / "r")
    assert not (tmp_path / "r").exists()  # no epoch was trained


def test_an_onnx_export_whose_batch_size_froze_is_refused(tmp_path):
    pytest.importorskip("onnx", reason="needs the train extra (onnx)")
    from pyfacs.export.onnx import export_onnx

    class Frozen(torch.nn.Module):  # one row per sample, but the count is taken as a constant when traced
        def __init__(self):
            super().__init__()
            self.b = torch.nn.Parameter(torch.tensor([0.1, 0.2, 0.3]))

        def forward(self, x):
            return self.b.expand(int(x.shape[0]), 3) + 0 * x.mean()

    with pytest.raises(RuntimeError, match="shape"):  # (broadcasting made the outputs compare equal)
        export_onnx(Frozen(), tmp_path / "f.onnx", input_shape=(1, 5), metadata={})
    assert not (tmp_path / "f.onnx").exists()
