"""Expression training: ESR / ESR* (optionally AU-cue guided) on FER2013, train split → PublicTest
split, one run directory. Runs on a CUDA GPU when one is present (``device: auto``), else on the CPU."""
from __future__ import annotations

import hashlib
import json
import math
import pickle
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pyfacs.errors import InputError
from pyfacs.train.augment import random_affine, shift_flip, to_tensor
from pyfacs.train.budget import epoch_saver, load_checkpoint, write_text_atomically
from pyfacs.train.config import TrainConfig


def pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise InputError("device: cuda, but this machine has no CUDA GPU (or torch has no CUDA): use auto or cpu")
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def _scaled(x_u8: torch.Tensor) -> torch.Tensor:
    return x_u8.float().div(255.0).sub(0.5).unsqueeze(1)


@torch.no_grad()
def predict_probs(model, images: np.ndarray, device=torch.device("cpu"), batch: int = 512, flip: bool = False):
    """(n, N branches, C) softmax outputs (of the mirror images with ``flip``)."""
    model.eval()
    out = []
    for i in range(0, len(images), batch):
        x = to_tensor(images[i:i + batch]).to(device)
        out.append(F.softmax(model(x.flip(-1) if flip else x)[0].float(), -1).cpu())
    return torch.cat(out)


def evaluate(model, images: np.ndarray, labels: np.ndarray, device=torch.device("cpu"),
             landmarks: np.ndarray | None = None, label_names=None) -> dict:
    from sklearn.metrics import confusion_matrix

    probs = predict_probs(model, images, device)
    flipped = predict_probs(model, images, device, flip=True)
    ens = probs.mean(1).argmax(-1).numpy()
    ens_flip = ((probs + flipped).mean(1)).argmax(-1).numpy()
    branch_acc = [(probs[:, k].argmax(-1).numpy() == labels).mean() for k in range(probs.shape[1])]
    # ESR's accuracy-vs-ensemble-size table: the vote of the first k branches, k = 1..N
    first_k = [(probs[:, :k].mean(1).argmax(-1).numpy() == labels).mean() for k in range(1, probs.shape[1] + 1)]
    out = {"ensemble_accuracy": float((ens == labels).mean()),
           "ensemble_flip_average_accuracy": float((ens_flip == labels).mean()),
           "branch_accuracy": [float(a) for a in branch_acc],
           "mean_branch_accuracy": float(np.mean(branch_acc)),
           "first_k_ensemble_accuracy": [float(a) for a in first_k],
           "confusion": confusion_matrix(labels, ens, labels=list(range(probs.shape[2]))).tolist()}
    if landmarks is not None:
        out["interpretability"] = cam_interpretability(model, images, labels, landmarks, label_names, device)
    return out


@torch.no_grad()
def cam_interpretability(model, images, labels, landmarks, label_names, device=torch.device("cpu")) -> dict:
    """The paper's measures, averaged over the images of classes with AU cues: the ensemble's CAM
    for the true class (mean of the branches' normalised CAMs) against that class's AU heatmap."""
    from pyfacs.au.heatmaps import expression_heatmap
    from pyfacs.expression.cam import INTERPRETABILITY_KEYS, interpretability
    from pyfacs.expression.guidance import branch_cams

    model.eval()
    rows = []
    for i in range(0, len(images), 512):
        x = to_tensor(images[i:i + 512]).to(device)
        y = torch.from_numpy(np.array(labels[i:i + 512])).to(device)
        cams = branch_cams(model, x, y)[2].float()
        flat = cams.flatten(2)
        cams = (flat / flat.max(2, keepdim=True).values.clamp(min=1e-12)).view_as(cams).mean(1).cpu().numpy()
        for k, cam in enumerate(cams):
            heat = expression_heatmap(landmarks[i + k], label_names[labels[i + k]], images.shape[1:])
            if heat.max() > 0:
                rows.append(interpretability(cam, heat))
    if not rows:  # (no image of a class with AU cues: neutral only)
        return dict.fromkeys(INTERPRETABILITY_KEYS, float("nan")) | {"n_images": 0}
    return {key: float(np.nanmean([r[key] for r in rows])) for key in rows[0]} | {"n_images": len(rows)}


def fit_esr(model, images, labels, cfg: TrainConfig, *, on_epoch=None, start_epoch: int = 0,
            state: dict | None = None, log=None, landmarks: np.ndarray | None = None,
            device=torch.device("cpu"), label_names=None):
    """Train ``model`` in place with ``cfg.optim``; returns the mean of the epoch ends' weights (float
    entries) under the swa schedule, else None. ``state`` resumes a checkpoint saved by ``on_epoch``."""
    from pyfacs.expression.esr import diversity_loss
    from pyfacs.expression.guidance import ClassHeatmaps, branch_cams, guidance_loss

    o = cfg.optim
    if o.batch_size < 2 or len(images) < 2:  # BatchNorm cannot train on one image: such batches are skipped
        raise InputError(f"expression training needs batches of at least 2 images, not {len(images)} image(s) "
                         f"in batches of {o.batch_size}: give more images or a larger batch size")
    model.to(device)
    if o.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum, nesterov=True,
                              weight_decay=o.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    steps = -(-len(images) // o.batch_size)  # per epoch
    if o.schedule == "swa":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _EpochCosine(steps, o.min_lr / o.lr))
    else:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=o.lr, total_steps=o.epochs * steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    average, averaged = None, 0  # swa: the running mean of the epoch ends' weights, and how many
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        average, averaged = state.get("average"), state.get("averaged", 0)
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)  # uint8: scaled per batch
    y = torch.from_numpy(np.array(labels)).to(device)
    lmk = torch.from_numpy(landmarks).float() if landmarks is not None else None
    heatmaps = ClassHeatmaps(label_names, images.shape[1], device=device) if cfg.model.guidance else None
    n = len(model.branches)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    for epoch in range(start_epoch, o.epochs):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(x), generator=gen)
        total = torch.zeros((), device=device)  # summed on the device: no sync per step
        for i in range(0, len(x), o.batch_size):
            idx = order[i:i + o.batch_size]
            if len(idx) < 2:
                sched.step()
                continue
            pts = None
            on_device = idx.to(device)
            if o.augment == "affine":
                xb, pts = random_affine(_scaled(x[on_device]), gen, points=lmk[idx] if heatmaps is not None else None)
            else:
                xb, pts = shift_flip(_scaled(x[on_device]).cpu(), gen, 4,
                                     points=lmk[idx] if heatmaps is not None else None)
                xb = xb.to(device)
            yb = y[on_device]
            with amp:
                if heatmaps is not None:
                    logits, _, cams = branch_cams(model, xb, yb)
                else:
                    logits, _ = model(xb)
            logits = logits.float()
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.repeat_interleave(n),
                                   label_smoothing=o.label_smoothing)
            if cfg.model.diversify:
                loss = loss + cfg.model.diversify * diversity_loss(logits)
            if heatmaps is not None:
                loss = loss + cfg.model.guidance * guidance_loss(cams, heatmaps(pts.to(device), yb))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach() * len(idx)
        if o.schedule == "swa":
            averaged += 1
            now = {k: v.detach().float() for k, v in model.state_dict().items() if v.is_floating_point()}
            average = ({k: v.clone() for k, v in now.items()} if average is None
                       else {k: average[k] + (v - average[k]) / averaged for k, v in now.items()})
        if log:
            log(epoch, float(total) / len(x), time.perf_counter() - t0)
        if on_epoch:
            on_epoch(epoch, {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                             "gen": gen.get_state(), "average": average, "averaged": averaged})
    return average


class _EpochCosine:
    """The swa schedule's learning-rate factor: a cosine from 1 down to ``floor`` within every epoch
    (a class, not a lambda, so that the scheduler's state can be saved)."""

    def __init__(self, steps_per_epoch: int, floor: float):
        self.steps, self.floor = steps_per_epoch, floor

    def __call__(self, step: int) -> float:
        phase = (step % self.steps) / max(self.steps - 1, 1)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * phase))


def load_initial_weights(model, ref: str, key: str = "model.init") -> str:
    """Warm start (``model.init``): copy into ``model`` the weights of a registered ESR model or of a
    run's ``model.pt``, dropping branches ``model`` does not have; returns the file's SHA-256.
    ``key`` names the config entry in errors."""
    from pyfacs.errors import InputError
    from pyfacs.expression.esr import load_weights, shipped_weights

    path = Path(ref) if ref.endswith(".pt") else shipped_weights(ref)
    if path is None:
        raise InputError(f"{key}: {ref} ships no PyTorch weights")
    if not path.is_file():
        raise InputError(f"{key}: {path} does not exist")
    try:
        load_weights(model, path)
    except ValueError as exc:
        raise InputError(f"{key}: {exc}") from None
    except RuntimeError:  # torch's size-mismatch report, dozens of lines
        raise InputError(f"{key}: {path} does not fit this model: check model.width and model.ensemble_size "
                         "against the network it was saved from") from None
    except (pickle.UnpicklingError, EOFError):
        raise InputError(f"{key}: {path} is not a PyTorch weights file") from None
    return hashlib.sha256(path.read_bytes()).hexdigest()


@torch.no_grad()
def average_weights(model, others: list[dict], images: np.ndarray, device=torch.device("cpu"),
                    own: dict | None = None) -> None:
    """Stochastic weight averaging (Izmailov et al. 2018): ``model`` takes the mean of its weights (or
    of ``own``: the mean of its epoch ends under the swa schedule) and ``others`` (state dicts of the
    same architecture: the ends of earlier one-cycles of a warm-started chain, which lie in one basin),
    then re-estimates its BatchNorm statistics with one pass over ``images`` (un-augmented, in order:
    deterministic), as the averaged weights need."""
    from torch.optim.swa_utils import update_bn

    states = [model.state_dict() | (own or {})] + others
    mean = {k: torch.stack([s[k].to(v.device).float() for s in states]).mean(0).to(v.dtype)
            if v.is_floating_point() else v for k, v in states[0].items()}
    model.load_state_dict(mean)
    update_bn((to_tensor(images[i:i + 512]).to(device) for i in range(0, len(images), 512)), model)
    model.eval()


def _fingerprint(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(a.tobytes())
    return h.hexdigest()


def run_expression(cfg: TrainConfig, run_dir: Path, provenance: dict, deadline: float | None = None) -> dict:
    from pyfacs.data.fer2013 import LABELS, cached_landmarks, load_fer2013_folder
    from pyfacs.expression.esr import ESR

    device = pick_device(cfg)
    model = ESR(cfg.model.ensemble_size, n_classes=len(LABELS), width=cfg.model.width)
    if cfg.model.init is not None:
        provenance["init_sha256"] = load_initial_weights(model, cfg.model.init)
    others = []  # model.average_with, loaded first: a wrong path fails before the data load and the training
    for ref in cfg.model.average_with:
        other = ESR(cfg.model.ensemble_size, n_classes=len(LABELS), width=cfg.model.width)
        provenance.setdefault("average_with_sha256", []).append(
            load_initial_weights(other, ref, "model.average_with"))
        others.append(other.state_dict())
    tr_x, tr_y = load_fer2013_folder(cfg.data.root, "train", cfg.data.limit)
    va_x, va_y = load_fer2013_folder(cfg.data.root, "val", cfg.data.val_limit)
    if cfg.export_full and cfg.model.export_int8 and 2 * cfg.model.export_int8 > len(tr_x):  # (before training)
        raise InputError(f"model.export_int8: {cfg.model.export_int8} calibration images and as many others to check "
                         f"the int8 model on need {2 * cfg.model.export_int8} Training images, not {len(tr_x)}; "
                         "lower it (or set it to 0 for float16)")
    tr_l = va_l = None
    if cfg.data.landmarks is not None:
        tr_l, va_l = cached_landmarks(cfg.data.landmarks, tr_x), cached_landmarks(cfg.data.landmarks, va_x)
    provenance.update({"data_fingerprint": _fingerprint(tr_x, tr_y, va_x, va_y), "n_train": len(tr_x),
                       "n_val": len(va_x), "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"})
    if tr_l is not None:
        provenance["landmarks_fingerprint"] = _fingerprint(tr_l, va_l)
    from pyfacs.train.runner import _check_same_inputs

    _check_same_inputs(run_dir, provenance)  # (a resumed run: the epochs done saw these inputs)
    write_text_atomically(run_dir / "provenance.json", json.dumps(provenance, indent=2))
    # channels-last convolutions: faster on a GPU, and 0-20% faster on the 2-core CPUs (interleaved runs)
    model = model.to(memory_format=torch.channels_last)
    ckpt = run_dir / "checkpoint.pt"
    state, start = None, 0
    if ckpt.is_file():
        saved = load_checkpoint(ckpt)
        state, start = saved["state"], saved["epoch"] + 1
    log_file = run_dir / "train_log.jsonl"
    def log(epoch: int, loss: float, seconds: float) -> None:
        with open(log_file, "a") as f:
            f.write(json.dumps({"epoch": epoch, "loss": round(loss, 6), "seconds": round(seconds, 2)}) + "\n")

    own_average = fit_esr(model, tr_x, tr_y, cfg, on_epoch=epoch_saver(ckpt, cfg.optim.epochs, deadline),
                          start_epoch=start, state=state, log=log, landmarks=tr_l, device=device, label_names=LABELS)
    before_average = None
    if others or own_average is not None:  # the last epoch's weights are scored before they are averaged
        before_average = float((predict_probs(model, va_x, device).mean(1).argmax(-1).numpy() == va_y).mean())
        average_weights(model, others, tr_x, device, own_average)
    metrics = {"name": cfg.name, "seed": cfg.seed, "model": f"ESR-{cfg.model.ensemble_size}"
               + ("*" if cfg.model.diversify else ""), "labels": list(LABELS),
               "val": evaluate(model, va_x, va_y, device, va_l, LABELS),
               "params": int(sum(p.numel() for p in model.parameters()))}
    if before_average is not None:
        metrics["val"]["ensemble_accuracy_before_average"] = before_average
    write_text_atomically(run_dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    # half-precision weights: what `pyfacs explain` and export start from (half the size, same accuracy)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.cpu().state_dict().items()},
               run_dir / "model.pt")
    if cfg.export_full:
        export_expression(run_dir, cfg, provenance["data_fingerprint"], tr_x)
    return metrics


def export_expression(run_dir: Path, cfg: TrainConfig, data_fingerprint: str,
                      train_images: np.ndarray | None = None) -> Path:
    """``run_dir/model.pt`` → ``run_dir/model.onnx``: the ensemble vote of all branches, or of the first
    ``model.export_ensemble_size``; weights stored in float16, or the convolutions in int8
    (``model.export_int8``: calibrated on that many of ``train_images``, drawn with the run's seed, and
    checked on as many others)."""
    from pyfacs.data.fer2013 import LABELS
    from pyfacs.expression.esr import ESR, ESRVote, load_weights
    from pyfacs.export.onnx import export_onnx, halve_weights, quantize_int8

    if cfg.model.export_int8 and train_images is not None and 2 * cfg.model.export_int8 > len(train_images):
        raise InputError(f"model.export_int8 {cfg.model.export_int8} needs {2 * cfg.model.export_int8} Training "
                         f"images (calibration, then as many to check on), not {len(train_images)}")
    size = cfg.model.export_ensemble_size or cfg.model.ensemble_size
    model = ESR(size, n_classes=len(LABELS), width=cfg.model.width)
    load_weights(model, run_dir / "model.pt")  # the first ``size`` branches
    out = Path(run_dir) / "model.onnx"
    export_onnx(ESRVote(model, cfg.model.flip_average).eval(), out, input_shape=(1, 1, 48, 48),
                metadata={"name": cfg.name, "labels": list(LABELS),
                          "input": "grey face crop 48x48 (FER2013-style), pixel/255 - 0.5",
                          "output": "ensemble class probabilities, then valence, arousal",
                          "ensemble_size": len(model.branches),
                          "flip_average": cfg.model.flip_average, "data_fingerprint": data_fingerprint})
    if not cfg.model.export_int8:
        halve_weights(out)
        return out
    if train_images is None:
        raise ValueError("an int8 export needs the Training images to calibrate on")
    pick = np.sort(np.random.default_rng(cfg.seed).choice(len(train_images), cfg.model.export_int8, replace=False))
    # checked on as many other images (a calibration set that fits itself may still fit nothing else)
    rest = np.setdiff1d(np.arange(len(train_images)), pick)
    held = np.sort(np.random.default_rng(cfg.seed + 1).choice(rest, len(pick), replace=False))
    change = quantize_int8(out, to_tensor(train_images[pick]).numpy(), held_out=to_tensor(train_images[held]).numpy())
    write_text_atomically(run_dir / "int8.json", json.dumps({"calibration_images": len(pick), **change}, indent=2))
    return out
