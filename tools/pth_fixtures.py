"""Writes the PyTorch checkpoint fixtures of tests/pth.rs into tests/pth/.

Small deterministic checkpoints (a few KB each) covering what the reader in src/pth/ must
handle, and tests/pth/expected.json: for each file, each tensor's name, dtype, shape and
values flattened in row-major order (or, for files that must be refused, the words the
error must contain).

Regenerate (needs torch; the files are committed, so the Rust tests do not):

    python3 tools/pth_fixtures.py

torch.save output is deterministic except for `.data/serialization_id`, a random entry
that the reader ignores, so regenerating changes those bytes only.
"""

import collections
import io
import json
import os
import struct
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pth")

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
    torch.uint16: "U16",
}


def values(t):
    """Flattened row-major values, exactly: integers (bools as 0/1) as JSON numbers, floats
    as strings, the shortest decimal that reads back as the same float64 (every f16, bf16
    and f32 value is exactly a float64). Strings because JSON readers may round numbers."""
    flat = t.detach().contiguous().reshape(-1)
    if t.dtype.is_floating_point:
        return [repr(float(v)) for v in flat.double().tolist()]
    return [int(v) for v in flat.tolist()]


def describe(sd):
    return [
        {"name": k, "dtype": DTYPES[v.dtype], "shape": list(v.shape), "values": values(v)}
        for k, v in sd.items()
    ]


def ramp(*shape, dtype=torch.float32, scale=8.0):
    """Distinct values, exactly representable in f16/bf16 too (multiples of 1/8 below 32)."""
    n = 1
    for d in shape:
        n *= d
    return ((torch.arange(n, dtype=torch.float64) - n // 2) / scale).to(dtype).reshape(shape)


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 2)
        self.bn = torch.nn.BatchNorm2d(3)
        self.fc = torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.conv.weight.copy_(ramp(3, 2, 2, 2))
            self.conv.bias.copy_(ramp(3, scale=4.0))
            self.bn.weight.copy_(ramp(3, scale=2.0) + 2)
            self.bn.bias.copy_(ramp(3, scale=16.0))
            self.bn.running_mean.copy_(ramp(3, scale=32.0))
            self.bn.running_var.copy_(ramp(3, scale=4.0) + 1)
            self.bn.num_batches_tracked.fill_(7)
            self.fc.weight.copy_(ramp(2, 3))
            self.fc.bias.copy_(ramp(2, scale=2.0))

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    def save(name, obj, sd, **kwargs):
        torch.save(obj, os.path.join(OUT, name), **kwargs)
        expected[name] = {"tensors": describe(sd)}

    model = Small()
    # Copies: the optimizer step below changes the parameters in place.
    sd = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())

    # A plain state_dict (OrderedDict, float32, with an int64 num_batches_tracked).
    save("f32.pt", sd, sd)
    # The same in half precision (and bfloat16), as people convert checkpoints.
    half = collections.OrderedDict((k, v.half() if v.is_floating_point() else v) for k, v in sd.items())
    save("f16.pt", half, half)
    bf16 = collections.OrderedDict((k, v.bfloat16() if v.is_floating_point() else v) for k, v in sd.items())
    save("bf16.pt", bf16, bf16)
    # The legacy (pre-1.6, non-zip) format.
    save("legacy.pt", sd, sd, _use_new_zipfile_serialization=False)
    # Pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL).
    save("protocol4.pt", sd, sd, pickle_protocol=4)

    # Views: a transpose (non-contiguous), a slice with a storage offset, two tensors
    # sharing one storage, a zero-dim and an empty tensor, a column (stride), an
    # expanded (zero-stride) view. Saved as such, torch keeps the views.
    base = ramp(4, 6)
    views = collections.OrderedDict()
    views["transposed"] = base.t()
    views["rows"] = base[1:3]
    views["column"] = base[:, 2]
    views["whole"] = base
    views["permuted"] = ramp(2, 3, 4).permute(2, 0, 1)
    views["expanded"] = ramp(3, 1).expand(3, 4)
    views["scalar"] = torch.tensor(2.5)
    views["empty"] = torch.zeros(0, 3)
    views["ints"] = torch.arange(-3, 3, dtype=torch.int32).reshape(2, 3)
    views["bytes"] = torch.arange(250, 256, dtype=torch.uint8)
    views["int8"] = torch.arange(-3, 3, dtype=torch.int8)
    views["int16"] = torch.arange(-300, 300, 200, dtype=torch.int16)
    views["bools"] = torch.tensor([True, False, True])
    views["f64"] = ramp(2, 2, dtype=torch.float64, scale=3.0)
    views["u16"] = torch.arange(65533, 65536, dtype=torch.int32).to(torch.uint16)
    save("views.pt", views, views)
    # torch cannot load back uint16 (an untyped storage) from a legacy file.
    legacy_views = collections.OrderedDict((k, v) for k, v in views.items() if k != "u16")
    save("views_legacy.pt", legacy_views, legacy_views, _use_new_zipfile_serialization=False)

    # Training checkpoints wrapping the state_dict.
    save("wrapped_state_dict.pt", {"state_dict": sd, "epoch": 3}, sd)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 2, 3, 3)).sum().backward()
    opt.step()
    trained = model.state_dict()
    save(
        "wrapped_model.pt",
        {"model": trained, "optimizer": opt.state_dict(), "best_acc": 0.5, "epoch": 12, "note": "x", "tags": [1, None, (2.5, True)]},
        trained,
    )
    # nn.DataParallel's names: `module.` before each (kept as stored, the caller strips it).
    dp = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    save("data_parallel.pt", dp, dp)

    # A whole pickled nn.Module (torch.save(model)): refused, with advice.
    torch.save(model, os.path.join(OUT, "whole_model.pt"))
    expected["whole_model.pt"] = {"error": ["whole pickled model", "state_dict()"]}

    # A pickle that would call os.system, built by hand (never unpickled), in a zip
    # laid out as torch.save does.
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("evil/data.pkl", evil)
        z.writestr("evil/byteorder", b"little")
        z.writestr("evil/version", b"3\n")
    with open(os.path.join(OUT, "os_system.pt"), "wb") as f:
        f.write(buf.getvalue())
    expected["os_system.pt"] = {"error": ["`os.system`", "refusing"]}

    # One line per tensor, so that a change shows as such in a diff.
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        files = []
        for name, want in expected.items():
            if "tensors" in want:
                lines = ",\n".join("   " + json.dumps(t) for t in want["tensors"])
                files.append(f' {json.dumps(name)}: {{"tensors": [\n{lines}\n ]}}')
            else:
                files.append(f" {json.dumps(name)}: {json.dumps(want)}")
        f.write("{\n" + ",\n".join(files) + "\n}\n")


if __name__ == "__main__":
    main()
