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
    """Export ``model`` (eval mode) to ``path``; returns the measured max abs difference. A model that
    fails the checks is not written (nor is an earlier file at ``path`` replaced)."""
    path = Path(path)
    part = path.with_name(f".{path.name}.part")  # (the final name only once the checks pass)
    try:
        diff = _export_checked(model, part, path.name, input_shape=input_shape, metadata=metadata, atol=atol,
                               opset=opset)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return diff


def _export_checked(model, path: Path, name: str, *, input_shape, metadata: dict, atol: float, opset: int) -> float:
    import onnx
    import onnxruntime as ort
    import torch

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
    if ref.shape != got.shape:  # (broadcasting would hide an output whose batch size was frozen at export)
        raise RuntimeError(f"ONNX export of {name} gives outputs of shape {got.shape} for a batch of 4, PyTorch "
                           f"{ref.shape}; not exported")
    diff = float(np.abs(ref - got).max())
    if not np.isfinite(ref).all():
        raise RuntimeError(f"{name}: the PyTorch model's own outputs are not all finite; not exported")
    if not diff <= atol:  # (NaN too)
        raise RuntimeError(f"ONNX export of {name} differs from PyTorch by {diff:.2e} (> {atol:.0e})")
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
    if not diff <= atol:  # (NaN too)
        raise RuntimeError(f"float16 weights change {path.name}'s output by {diff:.2e} (> {atol:.0e})")
    return diff


INT8_MIN_AGREEMENT = 0.95  # share of held-out inputs whose top class the int8 model must keep


def quantize_int8(path: str | Path, calibration: np.ndarray, *, held_out: np.ndarray | None = None,
                  batch: int = 50, min_agreement: float = INT8_MIN_AGREEMENT) -> dict:
    """Replace ``path`` (float32) by a version with int8 convolutions: weights per output channel,
    activations per tensor from the ``calibration`` inputs (99.999th percentile). Weights are kept to 7 bits
    (``reduce_range``): x86 CPUs without VNNI multiply u8 × s8 pairs into int16 sums that 8-bit weights
    can overflow — which cost 2.5 points of FER2013 accuracy, and 7 bits costs none. Returns how the
    int8 model's outputs differ from the float model's on the calibration inputs, and on the
    ``held_out`` inputs (not calibrated on: a bad calibration set looks fine on itself) the share
    whose top class is unchanged; below ``min_agreement``, or outputs not finite, is an error and
    ``path`` keeps the float model."""
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

    def outputs(p: Path, x: np.ndarray) -> np.ndarray:
        sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        return np.concatenate([sess.run(None, {"input": x[i:i + batch]})[0] for i in range(0, len(x), batch)])

    before = outputs(path, calibration)
    before_held = outputs(path, held_out) if held_out is not None else None
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:  # (beside it: the final rename stays on one disk)
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(path), str(prepared))
        # only the convolutions (nearly all the work): the heads after them stay float, so that
        # probabilities still sum to 1
        with contextlib.redirect_stdout(io.StringIO()):  # (its percentile calibrator prints its settings)
            quantize_static(str(prepared), str(quantized), Batches(), quant_format=QuantFormat.QDQ,
                            per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.Percentile,
                            op_types_to_quantize=["Conv"])
        proto = onnx.load(str(quantized))
        del proto.metadata_props[:]
        for key, value in {**metadata, "int8": "per-channel weights (7 bits), per-tensor activations"}.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(quantized))
        after = outputs(quantized, calibration)
        change = {"max_abs_diff": float(np.abs(before - after).max()),
                  "mean_abs_diff": float(np.abs(before - after).mean())}
        if before_held is not None:
            after_held = outputs(quantized, held_out)
            # the class probabilities: the outputs after them (valence, arousal) are not classes
            classes = len(json.loads(metadata["labels"])) if "labels" in metadata else before_held.shape[1]
            agree = float((before_held[:, :classes].argmax(1) == after_held[:, :classes].argmax(1)).mean())
            change |= {"held_out_images": len(held_out), "held_out_max_abs_diff":
                       float(np.abs(before_held - after_held).max()), "held_out_label_agreement": agree}
            if not np.isfinite(after_held).all():
                raise RuntimeError(f"int8 {path.name} gives outputs that are not finite; not used")
            if not agree >= min_agreement:
                raise RuntimeError(f"int8 {path.name} keeps the top class of only {agree:.1%} of {len(held_out)} "
                                   f"held-out inputs (< {min_agreement:.0%}); calibrate on more typical inputs")
        if not np.isfinite(after).all():
            raise RuntimeError(f"int8 {path.name} gives outputs that are not finite; not used")
        quantized.replace(path)
    return change
