"""config → run directory: resolved config, provenance, per-fold checkpoints (resumable),
out-of-fold predictions, ``metrics.json``; optionally a final model on all data, exported to ONNX."""
from __future__ import annotations

import errno
import json
import logging
import math
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from pyfacs.errors import InputError, require_extra
from pyfacs.train.budget import (deadline_in, epoch_saver, load_checkpoint, pause_if_spent, save_atomically,
                                 write_text_atomically)
from pyfacs.train.config import TrainConfig

log = logging.getLogger(__name__)


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("pyfacs", "torch", "numpy", "scikit-learn", "onnxruntime", "pyfhog", "mediapipe"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _determinism(cfg: TrainConfig) -> None:
    import os
    import random

    torch = require_extra("torch", "train")
    if torch.cuda.is_available():  # cuBLAS is deterministic only with this set before its first use
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    # on a GPU some kernels (pooling backward) have no deterministic version: warn, don't fail;
    # exact repeats are promised on the CPU
    torch.use_deterministic_algorithms(True, warn_only=torch.cuda.is_available())


def _distributed(torch, cfg: TrainConfig) -> int:
    """Under ``torchrun`` (WORLD_SIZE > 1): join the gloo process group; returns this process's rank."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0
    if cfg.task != "au-sequence":
        raise InputError(f"training under torchrun is implemented for au-sequence configs, not {cfg.task}")
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank()


def run(cfg: TrainConfig, run_dir: str | Path, *, minutes: float | None = None) -> dict:
    """Train ``cfg`` into ``run_dir`` (resuming what is there). With ``minutes``, runs that checkpoint
    each epoch (expression, MEFARG) stop with :class:`TrainingPaused` at the end of the epoch in which
    the time runs out; the same call resumes them."""
    torch = require_extra("torch", "train")
    if minutes is not None and not _checkpoints_epochs(cfg):
        log.warning("--minutes is ignored: %s runs have no per-epoch checkpoint and run to the end",
                    cfg.task if cfg.task == "au-sequence" else cfg.model.kind)
        minutes = None
    deadline = deadline_in(minutes)
    if _distributed(torch, cfg) > 0:  # under torchrun, only the first process writes the run dir
        import tempfile

        with tempfile.TemporaryDirectory(prefix="pyfacs-rank-") as scratch:
            return _run(cfg, Path(scratch), torch, deadline)
    return _run(cfg, Path(run_dir), torch, deadline)


# config entries that locate an input whose contents provenance.json fingerprints
INPUT_PATHS = ("data.root", "data.video", "data.labels", "data.landmarks", "model.cfg", "model.init",
               "model.average_with")


def _checkpoints_epochs(cfg: TrainConfig) -> bool:
    """Whether the run checkpoints every epoch, and so pauses under --minutes (the others run to the end)."""
    return cfg.task == "expression" or (cfg.task != "au-sequence" and cfg.model.kind == "mefarg")


def _check_run_dir(run_dir: Path, cfg: TrainConfig) -> None:
    """A run directory resumes only the config it was started with: another one would mix two
    trainings' checkpoints (or fail on their shapes) and overwrite the config that reproduces it."""
    import yaml

    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"--run-dir {run_dir} is a file; name a folder")
    saved = run_dir / "config.yaml"
    if not saved.is_file() and run_dir.is_dir() and any(run_dir.iterdir()):
        raise InputError(f"--run-dir {run_dir or '.'} holds other files and no run (its files would be "
                         f"overwritten); name a new or empty folder")
    if not saved.is_file() or not saved.read_text().strip():  # (empty: killed while writing it)
        return
    try:
        old = _flat(yaml.safe_load(saved.read_text()))
    except (yaml.YAMLError, AttributeError):
        raise InputError(f"{saved} is damaged: delete {run_dir} to start over, or use another --run-dir") from None
    new = _flat(yaml.safe_load(yaml.safe_dump(cfg.model_dump())))
    # how to run, not what: a run may move to another machine. (Not threads: on a CPU the sums of
    # 1 and 2 threads round differently, so a run that changes them mid-way reproduces neither.)
    machine = {"device"}
    # where the inputs lie, not what they hold: data moved to another folder is the same data, and
    # its contents are compared by fingerprint (_check_same_inputs); an input added or dropped is a change
    moved = {k for k in INPUT_PATHS if _moved(old.get(k), new.get(k))}
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k) and k not in machine | moved)
    if changed:
        k = changed[0]
        raise InputError(f"{run_dir} holds a run of another config ({k}: {old.get(k)} there, {new.get(k)} now); "
                         "use another --run-dir, or delete that one to start over")


def _moved(old, new) -> bool:
    """Both name inputs (and as many: model.average_with is a list), perhaps elsewhere."""
    if not old or not new:
        return False
    return not isinstance(old, list) or (isinstance(new, list) and len(old) == len(new))


def metric_differences(old, new, prefix: str = "") -> list[str]:
    """Where two metrics.json trees differ, as ``key: value there, value now`` (``pyfacs reproduce``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(old.keys() | new.keys(), key=str)
                for d in metric_differences(old.get(k), new.get(k), f"{prefix}{k}.")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in metric_differences(a, b, f"{prefix}{i}.")]
    both_nan = isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new)
    return [] if old == new or both_nan else [f"{prefix.rstrip('.')}: {old} there, {new} now"]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _run(cfg: TrainConfig, run_dir: Path, torch, deadline: float | None = None) -> dict:
    import yaml

    _check_run_dir(run_dir, cfg)
    fresh = not (run_dir / "config.yaml").is_file()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the run directory {run_dir} ({exc.strerror or exc}); "
                         "choose another --run-dir") from None
    write_text_atomically(run_dir / "config.yaml", yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    try:
        return _train(cfg, run_dir, torch, deadline)
    except BaseException as exc:  # (Ctrl-C too)
        # a run refused (or failed) before it trained anything leaves nothing behind to block the corrected one
        # (a refused AU-sequence run's cached video features too: the corrected inputs may not match
        # them; an interrupted one keeps them, to resume from)
        disposable = {"config.yaml", "provenance.json"} | ({"features.npz"} if isinstance(exc, InputError) else set())
        removed = fresh and {f.name for f in run_dir.iterdir()} <= disposable
        if removed:
            for f in list(run_dir.iterdir()):
                f.unlink()
            run_dir.rmdir()
        if isinstance(exc, OSError) and exc.errno is not None:  # (no errno: not the file system's, a bug)
            raise InputError(_stopped(exc, run_dir, kept=not removed)) from None
        raise


def _stopped(exc: OSError, run_dir: Path, *, kept: bool) -> str:
    """The one line for a file-system failure mid-run: what failed, what to do, what is left."""
    where = Path(exc.filename) if exc.filename else run_dir
    in_run = run_dir.resolve() in where.resolve().parents or where.resolve() == run_dir.resolve()
    hint = ("free some space, or choose another --run-dir" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
            or in_run else "check that file")
    left = f"what the run finished is kept in {run_dir} and the same command resumes" if kept else \
        "nothing was trained yet"
    return f"training stopped: {where}: {exc.strerror}; {hint} ({left})"


def _train(cfg: TrainConfig, run_dir: Path, torch, deadline: float | None) -> dict:
    from pyfacs.data.ckplus import subject_folds
    from pyfacs.train.data import prepare
    from pyfacs.train.metrics import presence_metrics

    _determinism(cfg)
    if cfg.task == "au-sequence":
        from pyfacs.train.sequence import run_sequence

        return run_sequence(cfg, run_dir, {"git_commit": _git_commit(), "versions": _versions()})
    if cfg.task == "expression":
        from pyfacs.train.expression import run_expression

        return run_expression(cfg, run_dir, {"git_commit": _git_commit(), "versions": _versions(),
                                             "data_root": cfg.data.root}, deadline)
    data = prepare(cfg.data, cfg.model.input_size)
    provenance = {"git_commit": _git_commit(), "versions": _versions(), "data_fingerprint": data.fingerprint,
                  "data_root": cfg.data.root, "n_images": len(data.images), "n_subjects": len(set(data.subjects))}
    if cfg.model.cfg is not None:  # the network is described there: an edit is a change of config
        from pyfacs.models.hub import sha256_of

        provenance["cfg_sha256"] = sha256_of(Path(cfg.model.cfg))
    _check_same_inputs(run_dir, provenance)
    write_text_atomically(run_dir / "provenance.json", json.dumps(provenance, indent=2))
    if len(set(data.subjects)) < cfg.data.folds:
        raise InputError(f"{len(set(data.subjects))} subjects cannot make {cfg.data.folds} subject-independent folds: "
                         "raise data.limit or lower data.folds")
    folds = subject_folds(data.subjects, cfg.data.folds, cfg.seed)
    wanted = cfg.data.only_folds if cfg.data.only_folds is not None else range(cfg.data.folds)
    oof = np.full(data.labels.shape, np.nan, np.float32)
    fold_f1 = {}
    previous = None
    trained_here = False  # (--minutes 0 still trains an epoch: each call makes progress)
    for k in wanted:
        pred_file = run_dir / f"fold{k}_pred.npy"
        test = folds[k]
        train = np.setdiff1d(np.arange(len(data.labels)), test)
        if pred_file.is_file():  # resumed: this fold is done
            oof[test] = np.load(pred_file)
        else:
            if trained_here:
                pause_if_spent(deadline, f"fold {previous}")
            trained_here = True
            if previous is not None:  # start from the random state an uninterrupted run has here
                _restore_random_state(torch, run_dir / f"fold{previous}_rng.pt")
            oof[test] = _fit_predict(cfg, data, train, test, run_dir / f"fold{k}.ckpt", torch, deadline)
            if not np.isfinite(oof[test]).all():
                raise InputError(f"fold {k} diverged (its predictions are not numbers): lower optim.lr")
            # the random state first: the predictions' file marks the fold done
            save_atomically(run_dir / f"fold{k}_rng.pt", lambda f: torch.save(
                {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}, f))
            save_atomically(pred_file, lambda f: np.save(f, oof[test]))
        previous = k
        fold_f1[str(k)] = presence_metrics(data.labels[test], oof[test], data.label_names)["mean_f1"]
    done = ~np.isnan(oof[:, 0])
    metrics = {"name": cfg.name, "seed": cfg.seed, "model": cfg.model.kind,
               "cv": presence_metrics(data.labels[done], oof[done], data.label_names), "fold_mean_f1": fold_f1}
    write_text_atomically(run_dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    if cfg.export_full:
        if trained_here and not (run_dir / "final.ckpt").is_file():
            pause_if_spent(deadline, "the last fold")
        if previous is not None:  # (resumed after the last fold: its weights are drawn from this state too)
            _restore_random_state(torch, run_dir / f"fold{previous}_rng.pt")
        _final_model(cfg, data, run_dir, torch, deadline)
    return metrics


def _restore_random_state(torch, path: Path) -> None:
    """The global random state saved when the previous fold ended: each fold's weights are drawn
    from it, so a resumed run draws what an uninterrupted one draws."""
    if not path.is_file():  # (a run directory from before these files were kept)
        log.warning("%s is missing: the folds still to run may differ from an uninterrupted run's", path.name)
        return
    saved = torch.load(path, weights_only=False)
    torch.set_rng_state(saved["torch"])
    np.random.set_state(saved["numpy"])


def _check_same_inputs(run_dir: Path, provenance: dict) -> None:
    """A resumed run must see the data and network description its finished folds (or epochs) saw;
    resumed at another commit, ``provenance`` keeps the first one (the work done was trained there)
    and lists the others in ``resumed_at``."""
    old_file = run_dir / "provenance.json"
    if not old_file.is_file():
        return
    try:
        old = json.loads(old_file.read_text())
    except ValueError:
        return  # (damaged: rewritten by the caller)
    for key, what in (("data_fingerprint", "the data"), ("cfg_sha256", "the model.cfg file"),
                      ("landmarks_fingerprint", "the landmarks"), ("init_sha256", "the model.init weights"),
                      ("average_with_sha256", "the model.average_with weights")):
        if key in old and old[key] != provenance.get(key):
            raise InputError(f"{run_dir} was trained on other inputs: {what} changed since ({key} "
                             f"{str(old[key])[:12]}... there, {str(provenance.get(key))[:12]}... now); "
                             "use another --run-dir, or delete that one to start over")
    if old.get("git_commit") and old["git_commit"] != provenance.get("git_commit"):
        provenance["resumed_at"] = [*old.get("resumed_at", []), provenance.get("git_commit")]
        provenance["git_commit"] = old["git_commit"]


def _fit_predict(cfg, data, train, test, ckpt: Path, torch, deadline: float | None = None) -> np.ndarray:
    from pyfacs.train.models import HogLinear, build_mefarg, fit_mefarg, predict_mefarg

    if cfg.model.kind == "hog-linear":
        return HogLinear(cfg.model.c).fit(data.images[train], data.labels[train]).predict(data.images[test])
    if cfg.model.kind == "audetnet":
        from pyfacs.train.models import fit_predict_audetnet

        return fit_predict_audetnet(cfg, data.images[train], data.labels[train], data.images[test])
    model = build_mefarg(cfg.model, data.labels.shape[1])
    state, start = None, 0
    if ckpt.is_file():
        saved = load_checkpoint(ckpt)
        state, start = saved["state"], saved["epoch"] + 1
        log.info("resuming %s from epoch %d", ckpt.name, start)
    fit_mefarg(model, data.images[train], data.labels[train], cfg.optim, cfg.seed,
               on_epoch=epoch_saver(ckpt, cfg.optim.epochs, deadline), start_epoch=start, state=state)
    return predict_mefarg(model, data.images[test])


def _final_model(cfg, data, run_dir: Path, torch, deadline: float | None = None) -> None:
    from pyfacs.export.onnx import export_onnx
    from pyfacs.train.models import build_mefarg, fit_audetnet, fit_mefarg

    if cfg.model.kind == "mefarg":  # checkpointed each epoch and paused by --minutes, as the folds are
        model = build_mefarg(cfg.model, data.labels.shape[1])
        ckpt, state, start = run_dir / "final.ckpt", None, 0
        if ckpt.is_file():
            saved = load_checkpoint(ckpt)
            state, start = saved["state"], saved["epoch"] + 1
        fit_mefarg(model, data.images, data.labels, cfg.optim, cfg.seed,
                   on_epoch=epoch_saver(ckpt, cfg.optim.epochs, deadline), start_epoch=start, state=state)
    elif cfg.model.kind == "audetnet":
        model = fit_audetnet(cfg, data.images, data.labels)
    else:
        raise NotImplementedError("MEFARG and AUDetNet models are exported; hog-linear is a baseline")
    export_onnx(model.eval(), run_dir / "model.onnx", input_shape=(1, 1, cfg.model.input_size, cfg.model.input_size),
                metadata={"name": cfg.name, "labels": data.label_names, "input": "aligned grey face, "
                          f"{cfg.model.input_size}x{cfg.model.input_size}, pixel/255 - 0.5",
                          "output": "logits; sigmoid gives presence probability",
                          "data_fingerprint": data.fingerprint})
