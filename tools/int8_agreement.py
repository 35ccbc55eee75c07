"""How often int8 keeps float32's top-1, ours against ONNX Runtime's, on the same pictures.

Makes COUNT pictures per photo (seeded, so a rerun makes the same ones): random crops of 35
to 100% of the area at aspect 3/4 to 4/3, half of them mirrored, some zoomed out onto a
grey border, some brighter or darker; then classifies each with

- ours: `inception classify --backend cpu --compute f32|int8 --json` on the int8 file
  (`convert --int8 --calibrate ...`; f32 computes from the same dequantized weights), and
- ONNX Runtime CPU: `bvlc_googlenet.onnx` and ORT's own `bvlc_googlenet_int8.onnx` from the
  peers folder, on the same picture preprocessed as ours (shorter side to 256, PIL's
  bilinear with antialiasing, centre 224 crop, BGR 0..255 minus Caffe's mean),

and prints, per engine, int8's top-1 agreement with its own float32 and the largest logit
difference as a share of float32's logit range (worst picture and median). Needs numpy,
pillow and onnxruntime (the peers' venv has the last two after `pip install pillow`):

    /tmp/inception-peers/venv/bin/python tools/int8_agreement.py --inception target/release/inception \\
        --weights bvlc_googlenet.int8.safetensors --peers ../shared/peers ../shared/images/*.jpg
"""
import argparse
import json
import pathlib
import random
import subprocess
import tempfile

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageEnhance, ImageOps


def variants(photo, count, rng):
    image = Image.open(photo).convert('RGB')
    w, h = image.size
    for i in range(count):
        area = rng.uniform(0.35, 1.0) * w * h
        aspect = rng.uniform(3 / 4, 4 / 3)
        cw = min(w, int(round((area * aspect) ** 0.5)))
        ch = min(h, int(round((area / aspect) ** 0.5)))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        picture = image.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            picture = ImageOps.mirror(picture)
        if rng.random() < 0.2:  # zoomed out: the crop smaller on a grey canvas
            s = rng.uniform(0.6, 0.9)
            small = picture.resize((max(1, int(cw * s)), max(1, int(ch * s))), Image.BILINEAR)
            canvas = Image.new('RGB', (cw, ch), (128, 128, 128))
            canvas.paste(small, ((cw - small.width) // 2, (ch - small.height) // 2))
            picture = canvas
        if rng.random() < 0.3:
            picture = ImageEnhance.Brightness(picture).enhance(rng.uniform(0.7, 1.3))
        yield f'{pathlib.Path(photo).stem}.{i:03d}.png', picture


def caffe_input(picture):
    w, h = picture.size
    s = 256 / min(w, h)
    resized = picture.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BILINEAR)
    x, y = (resized.width - 224) // 2, (resized.height - 224) // 2
    rgb = np.asarray(resized.crop((x, y, x + 224, y + 224)), dtype=np.float32)
    bgr = rgb[:, :, ::-1] - np.array([104.0, 117.0, 123.0], dtype=np.float32)
    return bgr.transpose(2, 0, 1)[None].copy()


def ours(inception, weights, compute, folder):
    out = subprocess.run([inception, 'classify', '--backend', 'cpu', '--compute', compute, '--weights', weights,
                          '--json', str(folder)], check=True, capture_output=True, text=True).stdout
    results = [json.loads(line) for line in out.splitlines() if line.startswith('{')] if not out.startswith('[') \
        else json.loads(out)
    return {pathlib.Path(r['image']).name: np.array(r['logits'], dtype=np.float32) for r in results}


def onnx(peers, model, inputs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(pathlib.Path(peers) / 'models' / f'{model}.onnx'), options,
                                   providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    return {k: session.run(None, {name: x})[0].reshape(-1) for k, x in inputs.items()}


def compare(label, f32, int8):
    agree = [int(f32[k].argmax() == int8[k].argmax()) for k in f32]
    shares = [float(np.abs(f32[k] - int8[k]).max() / (f32[k].max() - f32[k].min())) for k in f32]
    print(f'{label}: int8 top-1 = float32 top-1 on {sum(agree)} of {len(agree)} pictures '
          f'({100 * sum(agree) / len(agree):.1f}%); logit difference, share of the range: '
          f'median {100 * float(np.median(shares)):.2f}%, worst {100 * max(shares):.2f}%')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--inception', required=True)
    ap.add_argument('--weights', required=True, help='a calibrated int8 weights file')
    ap.add_argument('--peers', required=True)
    ap.add_argument('--count', type=int, default=75, help='pictures per photo')
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('photos', nargs='+')
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as folder:
        inputs = {}
        for photo in a.photos:
            for name, picture in variants(photo, a.count, rng):
                picture.save(pathlib.Path(folder) / name)
                inputs[name] = caffe_input(picture)
        print(f'{len(inputs)} pictures from {len(a.photos)} photos (seed {a.seed})')
        compare('ours (inception, CPU)', ours(a.inception, a.weights, 'f32', folder),
                ours(a.inception, a.weights, 'int8', folder))
        compare('ONNX Runtime CPU', onnx(a.peers, 'bvlc_googlenet', inputs), onnx(a.peers, 'bvlc_googlenet_int8', inputs))


if __name__ == '__main__':
    main()
