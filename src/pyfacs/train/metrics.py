"""AU metrics: per-AU F1, accuracy and AUC (scikit-learn), ICC(3,1) and MAE for intensities."""
from __future__ import annotations

import numpy as np


def presence_metrics(y: np.ndarray, prob: np.ndarray, labels: list[str], threshold: float = 0.5) -> dict:
    """``y`` (n, k) 0/1, ``prob`` (n, k) probabilities → {"per_au": {label: {...}}, "mean_f1": …}.

    An AU with no positive frame has no F1 (null: there is nothing to find, and 0 would read as a
    miss) and is left out of ``mean_f1``; ``aus_without_positives`` names them."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    pred = (prob >= threshold).astype(int)
    per = {}
    for j, name in enumerate(labels):
        yj = y[:, j]
        per[name] = {
            "f1": float(f1_score(yj, pred[:, j])) if yj.sum() > 0 else None,
            "accuracy": float(accuracy_score(yj, pred[:, j])),
            # one class only: AUC is undefined (null in metrics.json, which has no NaN)
            "auc": float(roc_auc_score(yj, prob[:, j])) if 0 < yj.sum() < len(yj) else None,
            "positives": int(yj.sum()),
        }
    f1 = [v["f1"] for v in per.values() if v["f1"] is not None]
    out = {"per_au": per, "mean_f1": float(np.mean(f1)) if f1 else None,
           "mean_accuracy": float(np.mean([v["accuracy"] for v in per.values()]))}
    if absent := [name for name, v in per.items() if v["f1"] is None]:
        out["aus_without_positives"] = absent
    return out


def icc3_1(a: np.ndarray, b: np.ndarray) -> float:
    """ICC(3,1) (two-way mixed, consistency, single rater; Shrout & Fleiss) between two raters."""
    x = np.stack([a, b], 1).astype(np.float64)
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    ms_rows, ms_err = ss_rows / (n - 1), ss_err / ((n - 1) * (k - 1))
    denom = ms_rows + (k - 1) * ms_err
    return float((ms_rows - ms_err) / denom) if denom > 0 else float("nan")


def intensity_metrics(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict:
    per = {name: {"icc": icc3_1(y[:, j], pred[:, j]), "mae": float(np.abs(y[:, j] - pred[:, j]).mean())}
           for j, name in enumerate(labels)}
    return {"per_au": per, "mean_icc": float(np.nanmean([v["icc"] for v in per.values()])),
            "mean_mae": float(np.mean([v["mae"] for v in per.values()]))}
