"""Expression training: ESR / ESR* on FER2013 (train split → PublicTest split), one run directory."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pyfacs.train.augment import shift_flip, to_tensor
from pyfacs.train.config import TrainConfig


@torch.no_grad()
def evaluate(model, images: np.ndarray, labels: np.ndarray, batch: int = 256) -> dict:
    from sklearn.metrics import confusion_matrix

    model.eval()
    logits = torch.cat([model(to_tensor(images[i:i + batch]))[0] for i in range(0, len(images), batch)])
    probs = F.softmax(logits, -1)  # (n, N, C)
    ens = probs.mean(1).argmax(-1).numpy()
    branch_acc = [(probs[:, k].argmax(-1).numpy() == labels).mean() for k in range(probs.shape[1])]
    return {"ensemble_accuracy": float((ens == labels).mean()),
            "branch_accuracy": [float(a) for a in branch_acc],
            "mean_branch_accuracy": float(np.mean(branch_acc)),
            "confusion": confusion_matrix(labels, ens, labels=list(range(probs.shape[2]))).tolist()}


def fit_esr(model, images, labels, cfg: TrainConfig, *, on_epoch=None, start_epoch: int = 0,
            state: dict | None = None, log=None):
    o = cfg.optim
    if o.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum, nesterov=True,
                              weight_decay=o.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=o.lr, total_steps=o.epochs * -(-len(images) // o.batch_size))
    gen = torch.Generator().manual_seed(cfg.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
    x, y = to_tensor(images), torch.from_numpy(np.array(labels))
    n = len(model.branches)
    from pyfacs.expression.esr import diversity_loss

    for epoch in range(start_epoch, o.epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), o.batch_size):
            idx = order[i:i + o.batch_size]
            if len(idx) < 2:
                sched.step()
                continue
            logits, _ = model(shift_flip(x[idx], gen, 4))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[idx].repeat_interleave(n))
            if cfg.model.diversify:
                loss = loss + cfg.model.diversify * diversity_loss(logits)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if log:
            log(epoch, total / len(x))
        if on_epoch:
            on_epoch(epoch, {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                             "gen": gen.get_state()})
    return model


def run_expression(cfg: TrainConfig, run_dir: Path, provenance: dict) -> dict:
    from pyfacs.data.fer2013 import LABELS, load_fer2013_folder
    from pyfacs.expression.esr import ESR

    import hashlib

    tr_x, tr_y = load_fer2013_folder(cfg.data.root, "train", cfg.data.limit)
    va_x, va_y = load_fer2013_folder(cfg.data.root, "val", cfg.data.val_limit)
    h = hashlib.sha256(tr_x.tobytes())
    h.update(tr_y.tobytes())
    h.update(va_x.tobytes())
    h.update(va_y.tobytes())
    provenance.update({"data_fingerprint": h.hexdigest(), "n_train": len(tr_x), "n_val": len(va_x)})
    (run_dir / "provenance.json").write_text(json.dumps(provenance, indent=2))
    model = ESR(cfg.model.ensemble_size, n_classes=len(LABELS), width=cfg.model.width)
    ckpt = run_dir / "checkpoint.pt"
    state, start = None, 0
    if ckpt.is_file():
        saved = torch.load(ckpt, weights_only=False)
        state, start = saved["state"], saved["epoch"] + 1
    log_file = run_dir / "train_log.jsonl"

    def save(epoch: int, st: dict) -> None:
        torch.save({"epoch": epoch, "state": st}, ckpt)

    def log(epoch: int, loss: float) -> None:
        with open(log_file, "a") as f:
            f.write(json.dumps({"epoch": epoch, "loss": round(loss, 6)}) + "\n")

    fit_esr(model, tr_x, tr_y, cfg, on_epoch=save, start_epoch=start, state=state, log=log)
    metrics = {"name": cfg.name, "seed": cfg.seed, "model": f"ESR-{cfg.model.ensemble_size}"
               + ("*" if cfg.model.diversify else ""), "labels": list(LABELS),
               "val": evaluate(model, va_x, va_y),
               "params": int(sum(p.numel() for p in model.parameters()))}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    if cfg.export_full:
        torch.save(model.state_dict(), run_dir / "model.pt")  # for gradients (pyfacs explain)
        from pyfacs.expression.esr import ESRVote
        from pyfacs.export.onnx import export_onnx

        export_onnx(ESRVote(model).eval(), run_dir / "model.onnx", input_shape=(1, 1, 48, 48),
                    metadata={"name": cfg.name, "labels": list(LABELS),
                              "input": "grey face crop 48x48 (FER2013-style), pixel/255 - 0.5",
                              "output": "ensemble class probabilities, then valence, arousal",
                              "data_fingerprint": provenance["data_fingerprint"]})
    return metrics
