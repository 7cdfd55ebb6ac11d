"""AU sequence model training on a video with per-frame labels: features per frame from pyfacs's
own pipeline, a contiguous split (the first part of the video trains, the rest tests), and the same
network trained twice — on windows of ``model.window`` frames and on single frames — so that the
run says what the temporal context adds."""
from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pyfacs.errors import InputError
from pyfacs.train.budget import save_atomically, write_text_atomically
from pyfacs.train.config import TrainConfig

log = logging.getLogger(__name__)


def video_features(video: Path, max_frames: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Per frame (the first ``max_frames``): the largest face's [AU logits, global features] (NaN
    when no face). Returns (features (n, d), frame numbers, AU-feature width)."""
    from pyfacs.au.heads import EmbeddedAUHead
    from pyfacs.io.media import iter_frames
    from pyfacs.pipeline import Analyzer
    from pyfacs.temporal.tokens import N_GLOBAL, frame_features

    analyzer = Analyzer(au_model=None, expression_model=None, max_faces=1)
    au = EmbeddedAUHead()
    feats, frames = [], []
    for frame in iter_frames(video):
        if max_frames is not None and frame.index >= max_frames:
            break
        faces = analyzer.faces(frame.rgb, index=frame.index)
        row = np.full(len(au.labels) + N_GLOBAL, np.nan, np.float32)
        if faces:
            f = faces[0]
            row = frame_features(au, frame.rgb, f.lmk68)
        feats.append(row)
        frames.append(frame.index)
    return np.array(feats, np.float32), np.array(frames), len(au.labels)


def _fill(x: np.ndarray) -> np.ndarray:
    """Frames without a face borrow the nearest earlier (else later) frame's features."""
    import pandas as pd

    return pd.DataFrame(x).ffill().bfill().to_numpy(np.float32)


def fit_predict(cfg: TrainConfig, x_train, y_train, x_test, n_au: int, window: int):
    """Train on (x_train, y_train), predict x_test. Under ``torchrun`` (a gloo process group) each of
    the W processes takes every W-th sample of each global batch and DDP sums the gradients: the
    same global batch and loss as one process, so the same model up to float rounding (exactly the
    same random numbers: the feature noise is drawn for the whole batch on every rank; dropout masks
    are each rank's own, so use ``model.dropout: 0`` to compare)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from pyfacs.temporal.sequence import AUSequenceModel

    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    torch.manual_seed(cfg.seed)  # the same initial weights in every process
    o = cfg.optim
    model = AUSequenceModel(n_au, x_train.shape[-1] - n_au, y_train.shape[1], window=window,
                            d_model=cfg.model.d_model, layers=cfg.model.layers, dropout=cfg.model.dropout)
    net = DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train.astype(np.float32))
    for _ in range(o.epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=gen).split(o.batch_size):
            if len(idx) < max(world, 2):
                continue  # a 1-sample remainder: skipped alike by one process and by several
            noise = (cfg.model.feature_noise * torch.randn((len(idx), *xt.shape[1:]), generator=gen)
                     if cfg.model.feature_noise else None)  # standardised features: units of their spread
            n_known = (~torch.isnan(yt[idx])).sum().clamp(min=1)
            mine = slice(rank, None, world)
            xb, yb = xt[idx[mine]], yt[idx[mine]]
            if noise is not None:
                xb = xb + noise[mine]
            known = ~torch.isnan(yb)
            logits = net(xb)
            if world == 1:
                loss = F.binary_cross_entropy_with_logits(logits[known], yb[known])
            else:  # this process's share of the global-batch mean; DDP averages over processes, hence × world
                loss = F.binary_cross_entropy_with_logits(logits[known], yb[known], reduction="sum") * world / n_known
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(x_test))).numpy(), model


def agreement(y: np.ndarray, p: np.ndarray, names: list[str]) -> dict:
    """Per label, on its annotated frames: agreement (accuracy) and F1 of ``p >= 0.5`` with ``y``
    (F1 null, and out of ``mean_f1``, for a label never present in those frames)."""
    from pyfacs.train.metrics import presence_metrics

    per = {}
    for k, name in enumerate(names):
        known = ~np.isnan(y[:, k])
        m = presence_metrics((y[known, k:k + 1] > 0.5).astype(int), p[known, k:k + 1], [name])["per_au"][name]
        per[name] = {"agreement": m["accuracy"], "f1": m["f1"]}
    f1 = [v["f1"] for v in per.values() if v["f1"] is not None]
    return {"mean_agreement": float(np.mean([v["agreement"] for v in per.values()])),
            "mean_f1": float(np.mean(f1)) if f1 else None, "per_label": per}


def run_sequence(cfg: TrainConfig, run_dir: Path, provenance: dict) -> dict:
    from pyfacs.data.video_labels import load_video_labels
    from pyfacs.temporal.tokens import windows_within_runs

    labels = load_video_labels(cfg.data.video, cfg.data.labels, columns=cfg.data.label_columns,
                               fmt=cfg.data.labels_format)
    h = hashlib.sha256(Path(cfg.data.video).read_bytes())
    h.update(Path(cfg.data.labels).read_bytes())
    provenance.update({"data_fingerprint": h.hexdigest(), "video": cfg.data.video, "labels": cfg.data.labels})
    from pyfacs.train.runner import _check_same_inputs

    _check_same_inputs(run_dir, provenance)  # (the features cached there were read from that video)
    cached = _cached_features(run_dir / "features.npz")
    if cached is not None:
        feats, frames, n_au = cached
    else:
        feats, frames, n_au = video_features(labels.video, cfg.data.limit)
        save_atomically(run_dir / "features.npz", lambda f: np.savez(f, feats=feats, frames=frames, n_au=n_au))
    provenance["features_fingerprint"] = hashlib.sha256(feats.tobytes()).hexdigest()
    write_text_atomically(run_dir / "provenance.json", json.dumps(provenance, indent=2))
    # labelled frames that have a face; windows within each run of frames with the face, as analyze cuts them
    has_face = ~np.isnan(feats).any(1)
    filled = _fill(feats)
    pos = {f: i for i, f in enumerate(frames)}
    rows = np.array([pos[f] for f in labels.frames if f in pos and has_face[pos[f]]], dtype=np.int64)
    y = np.array([labels.labels[k] for k, f in enumerate(labels.frames) if f in pos and has_face[pos[f]]])
    n_train = int(round(cfg.data.train_fraction * len(rows)))
    train, test = np.arange(n_train), np.arange(n_train, len(rows))
    _check_split(y.reshape(len(rows), len(labels.names)), n_train, labels.names, cfg.data.train_fraction)
    mean, std = filled[rows[train]].mean(0), filled[rows[train]].std(0) + 1e-6  # from training frames only
    normed = (filled - mean) / std
    metrics = {"name": cfg.name, "seed": cfg.seed, "labels": labels.names, "n_train_frames": len(train),
               "n_test_frames": len(test), "window": cfg.model.window}
    base_seed = cfg.seed
    for key, window in (("sequence", cfg.model.window), ("per_frame", 1)):
        w = windows_within_runs(normed, has_face, window)
        runs = []
        for r in range(cfg.model.repeats):
            cfg.seed = base_seed + r
            p, model = fit_predict(cfg, w[rows[train]], y[train], w[rows[test]], n_au, window)
            runs.append(agreement(y[test], p, labels.names))
            if r == 0:
                np.save(run_dir / f"{key}_test_probabilities.npy", p)
            if key == "sequence" and r == 0 and cfg.export_full:
                _export(model, mean, std, window, labels.names, run_dir / "model.onnx", cfg, provenance)
        cfg.seed = base_seed
        metrics[key] = {"mean_agreement": float(np.mean([m["mean_agreement"] for m in runs])),
                        "mean_f1": None if runs[0]["mean_f1"] is None else float(np.mean([m["mean_f1"] for m in runs])),
                        "per_seed": [{k: m[k] for k in ("mean_agreement", "mean_f1")} for m in runs],
                        "per_label_first_seed": runs[0]["per_label"]}
    metrics["zero_shot_embedded"] = _zero_shot(feats[rows[test]], y[test], labels.names, n_au)
    write_text_atomically(run_dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    return metrics


def _cached_features(path: Path) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The video's features from an earlier (interrupted) run of this run directory; None if there
    are none or the file is damaged (they are then computed again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            return z["feats"], z["frames"], int(z["n_au"])
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("%s is damaged (%s); computing the video's features again", path, exc)
        return None


def _check_split(y: np.ndarray, n_train: int, names: list[str], fraction: float) -> None:
    """Both splits hold frames, and every label is annotated in each (else its figures are undefined)."""
    if n_train < 1 or n_train >= len(y):
        raise InputError(f"{len(y)} labelled frame(s) show a face; data.train_fraction {fraction} leaves "
                         f"{n_train} for training and {len(y) - n_train} for testing: each needs at least one "
                         "(label more frames, or check that the labels' frame numbers are the video's)")
    for part, rows in (("training", y[:n_train]), ("test", y[n_train:])):
        if missing := [n for k, n in enumerate(names) if np.isnan(rows[:, k]).all()]:
            raise InputError(f"label {missing[0]!r} has no annotated frame with a face among the {len(rows)} "
                             f"{part} frames: annotate some, move data.train_fraction, or leave it out of "
                             "data.label_columns")


def _zero_shot(feats: np.ndarray, y: np.ndarray, names: list[str], n_au: int) -> dict:
    """The embedded AU model's own calls (p ≥ 0.5) on the AUs it shares with the labels."""
    from pyfacs.models import get_model

    aus = list(get_model("audetnet.ckplus").labels)
    shared = [(aus.index(n[:4]), k) for k, n in enumerate(names) if n[:4] in aus]
    if not shared:
        return {}
    p = 1 / (1 + np.exp(-feats[:, [a for a, _ in shared]]))
    return agreement(y[:, [k for _, k in shared]], p, [names[k] for _, k in shared])


def _export(model, mean, std, window: int, names: list[str], path: Path, cfg: TrainConfig, provenance: dict) -> None:
    from pyfacs.export.onnx import export_onnx
    from pyfacs.temporal.sequence import SequenceProbabilities

    export_onnx(SequenceProbabilities(model, mean, std).eval(), path, input_shape=(1, window, len(mean)),
                metadata={"name": cfg.name, "labels": [n.split("_")[0] for n in names], "window": window,
                          "input": "per frame: audetnet.ckplus logits, then pyfacs.temporal.sequence."
                                   "global_features(lmk68); frames t-w//2..t+w//2",
                          "output": "presence probability of each label at the centre frame",
                          "data_fingerprint": provenance["data_fingerprint"]})
