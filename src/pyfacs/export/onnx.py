"""ONNX export with the checker, a parity check against PyTorch, and metadata inference can read."""
from __future__ import annotations

import contextlib
import io
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


def halve_weights(path: str | Path, atol: float = 2e-3, min_size: int = 1024) -> float:
    """Store ``path``'s large float32 weights as float16, each followed by a Cast back to float32
    (half the file; ONNX Runtime folds the casts at load). Computation stays float32. Returns the max
    abs output change on random inputs; more than ``atol`` is an error."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    path = Path(path)
    proto = onnx.load(str(path))
    shape = [d.dim_value or 4 for d in proto.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(0).uniform(-0.5, 0.5, shape).astype(np.float32)
    before = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    casts = []
    for init in proto.graph.initializer:
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims) < min_size:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT))
    for node in reversed(casts):
        proto.graph.node.insert(0, node)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    after = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    diff = float(np.abs(before - after).max())
    if diff > atol:
        raise RuntimeError(f"float16 weights change {path.name}'s output by {diff:.2e} (> {atol:.0e})")
    return diff


def quantize_int8(path: str | Path, calibration: np.ndarray, *, batch: int = 50) -> dict:
    """Replace ``path`` (float32) by a version with int8 convolutions: weights per output channel,
    activations per tensor from the ``calibration`` inputs (99.999th percentile). Weights are kept to 7 bits
    (``reduce_range``): x86 CPUs without VNNI multiply u8 × s8 pairs into int16 sums that 8-bit weights
    can overflow — which cost 2.5 points of FER2013 accuracy, and 7 bits costs none. Returns how the
    int8 model's outputs differ from the float model's on the calibration inputs."""
    import tempfile

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    path = Path(path)
    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    # equal batches: ONNX Runtime's percentile calibration stacks them into one array
    batch = max(b for b in range(1, min(batch, len(calibration)) + 1) if len(calibration) % b == 0)

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.it = iter({"input": calibration[i:i + batch]} for i in range(0, len(calibration), batch))

        def get_next(self):
            return next(self.it, None)

    def outputs(p: Path) -> np.ndarray:
        sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        return np.concatenate([sess.run(None, {"input": calibration[i:i + batch]})[0]
                               for i in range(0, len(calibration), batch)])

    before = outputs(path)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(path), str(prepared))
        # only the convolutions (nearly all the work): the heads after them stay float, so that
        # probabilities still sum to 1
        with contextlib.redirect_stdout(io.StringIO()):  # (its percentile calibrator prints its settings)
            quantize_static(str(prepared), str(path), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                            reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.Percentile, op_types_to_quantize=["Conv"])
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in {**metadata, "int8": "per-channel weights (7 bits), per-tensor activations"}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    after = outputs(path)
    return {"max_abs_diff": float(np.abs(before - after).max()),
            "mean_abs_diff": float(np.abs(before - after).mean())}
