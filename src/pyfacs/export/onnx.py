"""ONNX export with the checker, a parity check against PyTorch, and metadata inference can read."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PARITY_ATOL = 1e-4  # max |onnxruntime - torch| on the logits, float32


def export_onnx(model, path: str | Path, *, input_shape: tuple[int, ...], metadata: dict,
                atol: float = PARITY_ATOL, opset: int = 17) -> float:
    """Export ``model`` (eval mode) to ``path``; returns the measured max abs difference."""
    import onnx
    import onnxruntime as ort
    import torch

    path = Path(path)
    model.eval()  # the top module too: export restores the top module's mode on all children
    x = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    torch.onnx.export(model, (x,), str(path), input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=opset,
                      dynamo=False)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    onnx.save(proto, str(path))
    xb = torch.randn(4, *input_shape[1:], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(xb).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": xb.numpy()})[0]
    diff = float(np.abs(ref - got).max())
    if diff > atol:
        raise RuntimeError(f"ONNX export of {path.name} differs from PyTorch by {diff:.2e} (> {atol:.0e})")
    return diff


def read_metadata(path: str | Path) -> dict:
    import onnxruntime as ort

    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    out = {}
    for k, v in meta.items():
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out
