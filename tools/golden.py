"""Regenerates the golden files in tests/golden/ from PyTorch.

For each network that PyTorch defines (torchvision's `googlenet` and `inception_v3`, and the
tutorial's `GoogLeNet` from ../shared/seed, copied below), this script:

1. builds the network in eval mode,
2. fills every floating-point tensor of its state_dict with deterministic values computed
   from the tensor's name (the scheme below, implemented identically in src/synthetic.rs),
3. runs it on a deterministic RGBA image of its input size (224x224, 299x299 for
   Inception v3; same scheme, tensor name "input"),
4. writes the state_dict's tensor list (name, shape, dtype) and the logits to
   tests/golden/<variant>.json; for both GoogLeNets also the pickle of their
   `torch.save(model.state_dict())` checkpoint (tests/golden/<variant>.data.pkl) and which
   storage holds which tensor, from which the Rust tests rebuild those checkpoints.

The Rust tests regenerate the same weights and image, so the golden files hold only the
tensor list and 1000 logits, not 27 MB of weights. Only regenerating needs torch:

    pip install torch torchvision && python3 tools/golden.py

Deterministic scheme (counter-based SplitMix64):
    seed   = FNV-1a 64 of the tensor name (UTF-8)
    z_i    = mix(seed + (i + 1) * 0x9E3779B97F4A7C15)  (mod 2^64), i = 0, 1, ...
    u_i    = (z_i >> 40) * 2^-23 - 1                   (f32 in [-1, 1), exact)
    byte_i = z_i >> 56                                 (for the input image)
    rank >= 2 (conv / linear weight): u * sqrt(6 / fan_in), fan_in = prod(shape[1:])
    rank 1 `running_var`: 1 + 0.25 * (u + 1);  `running_mean`: 0.1 * u
    rank 1 `weight` (batch-norm gamma): 1 + 0.1 * u;  rank 1 `bias`: 0.1 * u
    integer tensors (num_batches_tracked) keep PyTorch's value.
All arithmetic in float32.
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn as nn
import torchvision

MASK = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def mixed(name, n):
    with np.errstate(over="ignore"):
        z = np.uint64(fnv1a64(name)) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GOLDEN_GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(name, n):
    return (mixed(name, n) >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-23) - np.float32(1)


def synthetic_tensor(name, shape):
    n = int(np.prod(shape)) if shape else 1
    u = uniform(name, n)
    f = np.float32
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        v = u * np.sqrt(f(6) / f(fan_in))
    elif name.endswith("running_var"):
        v = f(1) + f(0.25) * (u + f(1))
    elif name.endswith("running_mean"):
        v = f(0.1) * u
    elif name.endswith("weight"):
        v = f(1) + f(0.1) * u
    elif name.endswith("bias"):
        v = f(0.1) * u
    else:
        raise ValueError(f"no synthetic rule for {name}")
    return v.astype(np.float32).reshape(shape)


def synthetic_image(width, height):
    """RGBA8, row-major, alpha 255: the same bytes as src/synthetic.rs `image`."""
    rgba = (mixed("input", width * height * 4) >> np.uint64(56)).astype(np.uint8).reshape(height, width, 4)
    rgba[..., 3] = 255
    return rgba


# ---- the tutorial's network (../shared/seed), unchanged apart from formatting ----
class conv_block(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super(conv_block, self).__init__()
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(in_channels, out_channels, **kwargs)
        self.batchnorm = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return self.relu(self.batchnorm(self.conv(x)))


class Inception_block(nn.Module):
    def __init__(self, in_channels, out_1x1, red_3x3, out_3x3, red_5x5, out_5x5, out_1x1pool):
        super(Inception_block, self).__init__()
        self.branch1 = conv_block(in_channels, out_1x1, kernel_size=(1, 1))
        self.branch2 = nn.Sequential(
            conv_block(in_channels, red_3x3, kernel_size=(1, 1)),
            conv_block(red_3x3, out_3x3, kernel_size=(3, 3), padding=(1, 1)),
        )
        self.branch3 = nn.Sequential(
            conv_block(in_channels, red_5x5, kernel_size=(1, 1)),
            conv_block(red_5x5, out_5x5, kernel_size=(5, 5), padding=(2, 2)),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
            conv_block(in_channels, out_1x1pool, kernel_size=(1, 1)),
        )

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, in_channels, num_classes):
        super(InceptionAux, self).__init__()
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(p=0.7)
        self.pool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)


class GoogLeNet(nn.Module):
    def __init__(self, aux_logits=True, num_classes=1000):
        super(GoogLeNet, self).__init__()
        self.aux_logits = aux_logits
        self.conv1 = conv_block(in_channels=3, out_channels=64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3))
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv2 = conv_block(64, 192, kernel_size=3, stride=1, padding=1)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.inception3a = Inception_block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception_block(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(kernel_size=(3, 3), stride=2, padding=1)
        self.inception4a = Inception_block(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception_block(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception_block(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception_block(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception_block(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.inception5a = Inception_block(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception_block(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AvgPool2d(kernel_size=7, stride=1)
        self.dropout = nn.Dropout(p=0.4)
        self.fc1 = nn.Linear(1024, num_classes)
        if self.aux_logits:
            self.aux1 = InceptionAux(512, num_classes)
            self.aux2 = InceptionAux(528, num_classes)
        else:
            self.aux1 = self.aux2 = None

    def forward(self, x):
        x = self.conv1(x)
        x = self.maxpool1(x)
        x = self.conv2(x)
        x = self.maxpool2(x)
        x = self.inception3a(x)
        x = self.inception3b(x)
        x = self.maxpool3(x)
        x = self.inception4a(x)
        x = self.inception4b(x)
        x = self.inception4c(x)
        x = self.inception4d(x)
        x = self.inception4e(x)
        x = self.maxpool4(x)
        x = self.inception5a(x)
        x = self.inception5b(x)
        x = self.avgpool(x)
        x = x.reshape(x.shape[0], -1)
        x = self.dropout(x)
        return self.fc1(x)


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def variants():
    # torchvision's googlenet as it is built for its pretrained weights (transform_input=True).
    yield "torchvision", torchvision.models.googlenet(
        weights=None, aux_logits=True, transform_input=True, init_weights=False
    )
    # the tutorial's network as a user would train it, here for 10 classes
    yield "seed", GoogLeNet(aux_logits=True, num_classes=10)
    # torchvision's Inception v3 as built for its pretrained weights
    yield "inception_v3", torchvision.models.inception_v3(
        weights=None, aux_logits=True, transform_input=True, init_weights=False
    )


def input_side(variant):
    """The synthetic image is exactly the network's input size, so no resizing is involved."""
    return 299 if variant == "inception_v3" else 224


def save_checkpoint_pickle(variant, model, out_dir):
    """torch.save(model.state_dict()) as a user does, keeping the pickle (data.pkl) of the
    zip and, per storage key, the tensor whose bytes it holds. The Rust test rebuilds the
    checkpoint from these and the deterministic values: PyTorch's own pickle, without
    committing megabytes of storages."""
    import io
    import zipfile

    buffer = io.BytesIO()
    state = model.state_dict()
    torch.save(state, buffer)
    archive = zipfile.ZipFile(buffer)
    entries = {name.split("/", 1)[1]: name for name in archive.namelist()}
    storages = []
    for name, t in state.items():
        key = str(len(storages))
        data = archive.read(entries[f"data/{key}"])
        # each state_dict entry owns one storage, numbered in state_dict order
        assert data == t.contiguous().numpy().tobytes(), f"storage {key} is not {name}"
        storages.append([key, name])
    pickle = archive.read(entries["data.pkl"])
    (out_dir / f"{variant}.data.pkl").write_bytes(pickle)
    return storages


def main():
    out_dir = pathlib.Path(__file__).resolve().parent.parent / "tests" / "golden"
    out_dir.mkdir(parents=True, exist_ok=True)
    for variant, model in variants():
        side = input_side(variant)
        rgba = synthetic_image(side, side)
        # every variant sees ImageNet-normalised RGB; torchvision's transform_input then remaps it
        x = (rgba[..., :3].astype(np.float32) / np.float32(255) - IMAGENET_MEAN) / IMAGENET_STD
        x = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
        model.eval()
        state = model.state_dict()
        tensors = []
        for name, t in state.items():
            if t.is_floating_point():
                state[name] = torch.from_numpy(synthetic_tensor(name, list(t.shape)))
            tensors.append([name, list(t.shape), str(t.dtype).replace("torch.", "")])
        model.load_state_dict(state)
        with torch.no_grad():
            logits = model(x)[0].double().numpy()
        storages = save_checkpoint_pickle(variant, model, out_dir) if variant != "inception_v3" else None
        top5 = np.argsort(-logits)[:5].tolist()
        doc = {
            "variant": variant,
            "image": {"name": "input", "width": side, "height": side},
            "num_classes": len(logits),
            "top5": top5,
            "tensors": tensors,
            "logits": [float(v) for v in logits],
        }
        if storages:
            doc["checkpoint_storages"] = storages
        path = out_dir / f"{variant}.json"
        path.write_text(json.dumps(doc) + "\n")
        print(f"{path}: top5 {top5}, logits in [{logits.min():.3f}, {logits.max():.3f}]")


if __name__ == "__main__":
    main()
