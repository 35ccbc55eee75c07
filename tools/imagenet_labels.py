"""Regenerates src/labels/imagenet.txt, the 1000 ImageNet class names in model output order.

The names come from torchvision's own list (`torchvision.models._meta._IMAGENET_CATEGORIES`),
which is the order every GoogLeNet / Inception checkpoint here uses. Run once; torch is not
needed by the build or the tests.

    python3 tools/imagenet_labels.py
"""
import pathlib

from torchvision.models._meta import _IMAGENET_CATEGORIES

out = pathlib.Path(__file__).resolve().parent.parent / "src" / "labels" / "imagenet.txt"
out.parent.mkdir(exist_ok=True)
assert len(_IMAGENET_CATEGORIES) == 1000
out.write_text("".join(name + "\n" for name in _IMAGENET_CATEGORIES))
print(f"wrote {out}")
