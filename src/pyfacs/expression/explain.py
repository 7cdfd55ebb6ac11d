"""``pyfacs explain``: where the expression model looks, next to where the AU codebook says it should.

Needs the ``train`` extra (gradients): the shipped ESR's PyTorch weights, Grad-CAM (or another CAM
method) over each branch's last convolutional features, averaged, with the ensemble's probability of the
predicted class as the score; the AU heatmap of that class is built from the face's landmarks in the crop."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pyfacs.errors import InputError, require_extra


def load_esr(name: str | None = None):
    """The PyTorch ESR behind an expression head (default: analyze's default head)."""
    require_extra("torch", "train")
    from pyfacs.expression.esr import ESR, load_weights, shipped_weights
    from pyfacs.expression.heads import DEFAULT_EXPRESSION_HEAD
    from pyfacs.models import get_model

    name = name or DEFAULT_EXPRESSION_HEAD
    spec = get_model(name)
    pt = shipped_weights(name)
    if pt is None:
        raise InputError(f"{name} ships no PyTorch weights to explain")
    model = ESR(spec.extra["ensemble_size"], n_classes=len(spec.labels), width=spec.extra["width"])
    load_weights(model, pt)
    return model.eval(), list(spec.labels)


def explain(image: str | Path, output: str | Path, *, method: str = "gradcam", faces_cropped: bool = False) -> dict:
    """Write a PNG (face crop | attention over it | AU heatmap of the predicted class) and return
    the prediction and the interpretability measures. ``faces_cropped``: the image is a face crop
    (a FER2013 image, say), used whole, as ``analyze --faces-cropped`` does."""
    require_extra("torch", "train")
    import cv2
    import torch
    import torch.nn.functional as F

    from pyfacs.au.heatmaps import expression_heatmap
    from pyfacs.expression.cam import METHODS, activation_map, interpretability
    from pyfacs.expression.heads import face_crop
    from pyfacs.io.media import read_image
    from pyfacs.io.sinks import check_writable
    from pyfacs.pipeline import Analyzer

    image, output = Path(image).expanduser(), Path(output).expanduser()
    if method not in METHODS:  # (before the models load)
        raise InputError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if Path(output).suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise InputError(f"the explanation is an image: name the output .png or .jpg, not {Path(output).name}")
    if Path(output).resolve() == Path(image).resolve():
        raise InputError(f"the explanation would overwrite its input {image}; name another output (-o)")
    check_writable(output, "output")
    rgb = read_image(Path(image))
    if faces_cropped:
        crop = face_crop(rgb, None, whole_image=True)
    else:
        faces = Analyzer(au_model=None, expression_model=None).faces(rgb, still=True)
        if not faces:
            raise InputError(f"no face found in {image}; if it is a face crop already, use --faces-cropped")
        face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))  # several people: the largest
        crop = face_crop(rgb, face, whole_image=False)
    finder = Analyzer(faces_cropped=True, au_model=None, expression_model=None)
    lmk_crop = finder.faces(np.repeat(crop[:, :, None], 3, 2))[0].lmk68
    model, labels = load_esr()
    x = torch.from_numpy(crop.astype(np.float32) / 255.0 - 0.5)[None, None].requires_grad_(False)

    def score(out):
        return F.softmax(out[0], -1).mean(1)

    with torch.no_grad():
        probs = score(model(x))[0].numpy()
    k = int(probs.argmax())
    # the ensemble's map: the mean of each branch's map over its last convolutional features, after
    # their BatchNorm and ReLU: the features its pooled classifier reads, where AU-cue guidance aligns
    # the maps in training (the shared base's maps are coarse and dominated by border effects)
    maps = [activation_map(model, b.net[-2], x, k, method=method, score_fn=score, fc=b.fc)[0].numpy()
            for b in model.branches]
    cam = np.mean(maps, 0)
    cam = (cam - cam.min()) / max(float(cam.max() - cam.min()), 1e-12)
    heat = expression_heatmap(lmk_crop, labels[k], crop.shape)
    measures = interpretability(cam, heat) if heat.max() > 0 else {}
    big = 192
    crop_big = cv2.cvtColor(cv2.resize(crop, (big, big), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)

    def overlay(m: np.ndarray) -> np.ndarray:
        m = cv2.resize(m.astype(np.float32), (big, big))
        colour = cv2.applyColorMap((m * 255).astype(np.uint8), cv2.COLORMAP_JET)
        return cv2.addWeighted(crop_big, 0.5, colour, 0.5, 0)

    panel = np.hstack([crop_big, overlay(cam), overlay(heat)])
    cv2.putText(panel, f"{labels[k]} {probs[k]:.2f}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    cv2.putText(panel, method, (big + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    cv2.putText(panel, "AU cues", (2 * big + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    if not cv2.imwrite(str(output), panel):
        raise InputError(f"could not write {output}; use a .png path in an existing folder")
    return {"label": labels[k], "probability": float(probs[k]), "method": method, **measures}
