"""AffectNet in OpenDR's pre-processed layout: ``<root>/<set>/<k>/<id>s<emotion>s<valence×1000>s<arousal×1000>.jpg``
as OpenDR's ``pre_process_affect_net`` names them (e.g. ``0000038s2s795s-694.jpg``; ``_`` as the
separator is read too), in folders of up to 500 images; ``set`` is ``Training_Labeled``,
``Training_Unlabeled`` or ``Validation``. Emotions: 0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear,
5 disgust, 6 anger, 7 contempt; AffectNet's 8-10 (none, uncertain, no face) are skipped, as OpenDR does."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pyfacs.errors import InputError

LABELS = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")  # pyfacs's names
_NAME = re.compile(r"^(?P<id>\d+)[s_](?P<emo>\d+)[s_](?P<val>-?\d+)[s_](?P<aro>-?\d+)\.(jpg|jpeg|png)$", re.I)


def load_affectnet_opendr(root: str | Path, set_name: str = "Training_Labeled", size: int = 48):
    """(grey images (n, size, size) uint8, emotion labels (n,), valence/arousal (n, 2) in [-1, 1])."""
    import cv2

    from pyfacs.io.media import read_image, walk_files

    folder = Path(root) / set_name
    if not folder.is_dir():
        raise InputError(f"{folder} does not exist: expected AffectNet in OpenDR's layout ({set_name}/<k>/...)")
    # (walk_files: the <k> folders may be links to another disk; rglob would skip them without a word)
    files = [p for p in walk_files(folder) if _NAME.match(p.name) and int(_NAME.match(p.name)["emo"]) < len(LABELS)]
    if not files:
        raise InputError(f"{folder} holds no files named <id>s<emotion>s<valence>s<arousal>.jpg with emotions 0-7")
    imgs, labels, va = [], [], []
    for f in files:
        m = _NAME.match(f.name)
        if not (abs(int(m["val"])) <= 1000 and abs(int(m["aro"])) <= 1000):
            raise InputError(f"{f}: valence {int(m['val'])} and arousal {int(m['aro'])} must lie in -1000..1000 "
                             "(×1000 of AffectNet's [-1, 1], as OpenDR names its files)")
        gray = cv2.cvtColor(read_image(f), cv2.COLOR_RGB2GRAY)
        imgs.append(cv2.resize(gray, (size, size)))
        labels.append(int(m["emo"]))
        va.append((int(m["val"]) / 1000.0, int(m["aro"]) / 1000.0))
    return np.stack(imgs), np.array(labels, np.int64), np.array(va, np.float32)
