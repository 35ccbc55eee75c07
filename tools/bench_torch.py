"""PyTorch's CPU time for the BVLC GoogLeNet on this machine, beside `inception bench`.

Runs the same network as `--model bvlc` (LRN, ceil-mode pools, true 5x5) with the same
weights, in eval mode, batch 1, and prints median / min / max milliseconds per image, and
checks that it agrees with the reference logits of tiger_cat.224.png.

    python3 tools/bench_torch.py ../shared/weights/bvlc_googlenet.safetensors [--runs 20] [--threads 2]
"""
import argparse
import json
import pathlib
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

BLOCKS = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]


def forward(w, x):
    def conv(name, x, stride=1, pad=0):
        return F.relu(F.conv2d(x, w[name + ".weight"], w[name + ".bias"], stride=stride, padding=pad))

    def lrn(x):
        return F.local_response_norm(x, size=5, alpha=1e-4, beta=0.75, k=1.0)

    def pool(x):
        return F.max_pool2d(x, 3, 2, ceil_mode=True)

    x = pool(conv("conv1/7x7_s2", x, 2, 3))
    x = conv("conv2/3x3", conv("conv2/3x3_reduce", lrn(x)), 1, 1)
    x = pool(lrn(x))
    for b in BLOCKS:
        if b in ("4a", "5a"):
            x = pool(x)
        p = f"inception_{b}/"
        x = torch.cat([
            conv(p + "1x1", x),
            conv(p + "3x3", conv(p + "3x3_reduce", x), 1, 1),
            conv(p + "5x5", conv(p + "5x5_reduce", x), 1, 2),
            conv(p + "pool_proj", F.max_pool2d(x, 3, 1, 1, ceil_mode=True)),
        ], 1)
    x = x.mean((2, 3))
    return F.linear(x, w["loss3/classifier.weight"], w["loss3/classifier.bias"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    w = load_file(a.weights)
    images = pathlib.Path(a.weights).resolve().parent.parent / "images"
    rgb = np.asarray(Image.open(images / "tiger_cat.224.png").convert("RGB"), dtype=np.float32)
    x = torch.from_numpy((rgb[..., ::-1] - np.array([104, 117, 123], np.float32)).transpose(2, 0, 1).copy())[None]
    with torch.inference_mode():
        logits = forward(w, x)[0]
        ref = json.loads((images / "bvlc_googlenet.reference.json").read_text())["tiger_cat.224.png"]["logits"]
        err = (logits - torch.tensor(ref)).abs().max().item()
        times = []
        for i in range(a.warmup + a.runs):
            t0 = time.perf_counter()
            forward(w, x)
            if i >= a.warmup:
                times.append((time.perf_counter() - t0) * 1e3)
    print(f"PyTorch {torch.__version__} CPU, {a.threads} threads, BVLC GoogLeNet: median {statistics.median(times):.1f} ms "
          f"(min {min(times):.1f}, max {max(times):.1f}, n {len(times)}); max abs logit diff vs reference {err:.1e}")


if __name__ == "__main__":
    main()
