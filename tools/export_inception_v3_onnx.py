"""Exports torchvision's Inception v3, with the project's deterministic weights, to ONNX for
the ONNX Runtime Web peer benchmark (issue 4: `cargo xtask bench-web --model inception_v3 --peer`).

The peer runner (../shared/peers/run, run.mjs) loads `models/NAME.onnx`, `models/NAME.input.npy`
(preprocessed input, float32 NCHW) and `models/NAME.logits.npy` (reference logits, float32) from
the folder it lives in, and reports ORT's time and the max abs difference from the reference.
The shipped peer folder holds only `bvlc_googlenet`; this script writes the three files for
`inception_v3`:

    <out>/inception_v3.onnx         the network, fixed input 1x3x299x299 named "input",
                                    one output "logits" (1x1000); weights inside the file
    <out>/inception_v3.input.npy    float32 (1, 3, 299, 299)
    <out>/inception_v3.logits.npy   float32 (1, 1000), PyTorch's logits for that input

The network and its input are exactly those of tools/golden.py (variant "inception_v3"), which
the Rust side regenerates in src/synthetic.rs:
`torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True,
init_weights=False)` in eval mode (so the aux head is not in the graph), every floating-point
tensor of its state_dict filled by `synthetic_tensor(name, shape)`, run on the RGB of
`synthetic_image(299, 299)` scaled to [0, 1] and normalised with the ImageNet mean/std
(transform_input then remaps it inside the network, as in torchvision).

Usage (needs torch, torchvision, onnx; onnxscript only for the fallback exporter; onnxruntime
optional, for the check):

    pip install onnx onnxscript onnxruntime
    python3 tools/export_inception_v3_onnx.py OUT_DIR [--opset 17]

    # e.g. a writable copy of the peers folder that can also run Inception v3:
    cp -r ../shared/peers/. /tmp/peers-v3/
    python3 tools/export_inception_v3_onnx.py /tmp/peers-v3/models
    /tmp/peers-v3/run --model inception_v3

It tries the TorchScript exporter (`dynamo=False`) first, then the dynamo exporter. If
onnxruntime is installed, it runs the exported model on the CPU and checks its logits against
PyTorch's (max abs difference <= 1e-4); if tests/golden/inception_v3.json is there, it also
checks PyTorch's logits against the golden ones (same weights and input).
"""
import argparse
import json
import pathlib
import sys

import numpy as np
import torch
import torchvision

TOOLS_DIR = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS_DIR))
from golden import IMAGENET_MEAN, IMAGENET_STD, synthetic_image, synthetic_tensor  # noqa: E402

NAME = "inception_v3"
SIDE = 299
TOLERANCE = 1e-4


def build_model():
    model = torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
    model.eval()
    # exactly as golden.py main(): every floating-point tensor from its name; integer
    # tensors (num_batches_tracked) keep PyTorch's value
    state = model.state_dict()
    for name, t in state.items():
        if t.is_floating_point():
            state[name] = torch.from_numpy(synthetic_tensor(name, list(t.shape)))
    model.load_state_dict(state)
    return model


def build_input():
    rgba = synthetic_image(SIDE, SIDE)
    x = (rgba[..., :3].astype(np.float32) / np.float32(255) - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))[None].astype(np.float32)  # (1, 3, 299, 299)


def export(model, x, path, opset):
    """TorchScript exporter first, the dynamo exporter if that fails. Returns which one worked."""
    common = dict(input_names=["input"], output_names=["logits"], opset_version=opset)
    try:
        torch.onnx.export(model, (x,), str(path), dynamo=False, do_constant_folding=True, **common)
        return "torchscript (dynamo=False)"
    except Exception as e:  # noqa: BLE001 - any failure: fall back
        print(f"dynamo=False export failed ({type(e).__name__}: {e}); trying the dynamo exporter", file=sys.stderr)
    program = torch.onnx.export(model, (x,), dynamo=True, external_data=False, optimize=True, **common)
    program.save(str(path), external_data=False)
    return "dynamo"


def op_counts(path):
    import onnx

    m = onnx.load(str(path))
    assert not any(
        init.data_location == onnx.TensorProto.EXTERNAL for init in m.graph.initializer
    ), "weights were written as external data; the peer page fetches only the .onnx"
    onnx.checker.check_model(m)
    counts = {}
    for node in m.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    inputs = [(i.name, [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim]) for i in m.graph.input]
    outputs = [(o.name, [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim]) for o in m.graph.output]
    opsets = {o.domain or "ai.onnx": o.version for o in m.opset_import}
    return counts, inputs, outputs, opsets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=pathlib.Path, help="folder for inception_v3.{onnx,input.npy,logits.npy}")
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()
    torch.set_num_threads(1)  # light on shared machines; the network is small

    model = build_model()
    x_np = build_input()
    x = torch.from_numpy(x_np)
    with torch.no_grad():
        logits = model(x).numpy().astype(np.float32)  # (1, 1000): eval mode returns the logits only
    assert logits.shape == (1, 1000), logits.shape

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / f"{NAME}.onnx"
    with torch.no_grad():
        exporter = export(model, x, onnx_path, args.opset)
    np.save(args.out / f"{NAME}.input.npy", x_np)
    np.save(args.out / f"{NAME}.logits.npy", logits)

    counts, inputs, outputs, opsets = op_counts(onnx_path)
    top5 = np.argsort(-logits[0])[:5].tolist()
    print(f"exporter: {exporter}; opsets {opsets}; inputs {inputs}; outputs {outputs}")
    print(f"ops ({sum(counts.values())} nodes): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
    print(f"PyTorch logits: top5 {top5}, range [{logits.min():.4f}, {logits.max():.4f}]")
    for f in (onnx_path, args.out / f"{NAME}.input.npy", args.out / f"{NAME}.logits.npy"):
        print(f"wrote {f} ({f.stat().st_size} bytes)")

    ok = True
    golden = TOOLS_DIR.parent / "tests" / "golden" / f"{NAME}.json"
    if golden.exists():
        ref = np.array(json.loads(golden.read_text())["logits"], dtype=np.float64)
        d = float(np.abs(logits[0].astype(np.float64) - ref).max())
        print(f"PyTorch vs {golden.name}: max abs diff {d:.3g}")
        ok &= d <= TOLERANCE
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: ONNX logits not checked")
    else:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        (out,) = sess.run(None, {sess.get_inputs()[0].name: x_np})
        d = float(np.abs(out - logits).max())
        same_top = int(out[0].argmax()) == int(logits[0].argmax())
        print(f"onnxruntime {ort.__version__} (CPU) vs PyTorch: max abs diff {d:.3g}, shape {out.shape}, argmax match {same_top}")
        ok &= d <= TOLERANCE and out.shape == logits.shape
    if not ok:
        sys.exit(f"check failed (tolerance {TOLERANCE})")


if __name__ == "__main__":
    main()
