// What is drawn over the camera or the picture (the #cam canvas, laid over #stage): the
// outline of the centre crop the network classifies, the rest of the frame shaded, and,
// when asked for, a class activation map over the crop (where the network saw that class).
import { camHeatmap, cropRegion } from './pkg/inception.js';

// The heat map is resampled to this many pixels a side over the crop (8 per cell of
// GoogLeNet's 7x7 map), then scaled to the shown crop by the canvas, bilinearly as well.
// (At 224 a side, with the canvas's high-quality scaling, a frame on the CPU backend took
// 9% longer with the map than without; the map is smooth, so nothing shows the difference.)
const HEAT_SIDE = 56;
const SHADE = 'rgb(0 0 0 / 0.3)';

export class Overlay {
  #canvas;
  #heat = new OffscreenCanvas(HEAT_SIDE, HEAT_SIDE);
  #last = null; // what draw() was last given, for redraw()
  opacity = 0.6;

  constructor(canvas) {
    this.#canvas = canvas;
  }

  /**
   * Draws over `shown` (the <video> or <canvas> element showing the image, `object-fit:
   * contain`) the crop a network with input `crop` (and shorter side resized to `resize`)
   * takes of its `width` x `height` image, and `cam` ({width, height, values}, a raw map of
   * `run`'s result, or null) over it; `label` names the class of the map.
   */
  draw(frame) {
    this.#last = frame;
    const { shown, width, height, crop, resize, cam, label } = frame;
    const canvas = this.#canvas;
    const dpr = window.devicePixelRatio || 1;
    const [boxW, boxH] = [shown.clientWidth, shown.clientHeight];
    if (canvas.width !== Math.round(boxW * dpr) || canvas.height !== Math.round(boxH * dpr)) {
      [canvas.width, canvas.height] = [Math.round(boxW * dpr), Math.round(boxH * dpr)];
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, boxW, boxH);
    // object-fit: contain: the image scaled to fit, centred
    const scale = Math.min(boxW / width, boxH / height);
    const [left, top] = [(boxW - width * scale) / 2, (boxH - height * scale) / 2];
    const [x, y, w, h] = cropRegion(crop, resize, width, height);
    const rect = [left + x * scale, top + y * scale, w * scale, h * scale];
    g.fillStyle = SHADE;
    g.beginPath();
    g.rect(left, top, width * scale, height * scale);
    g.rect(...rect);
    g.fill('evenodd'); // the image less the crop
    canvas.dataset.crop = rect.map((v) => v.toFixed(1)).join(',');
    if (cam) {
      const rgba = camHeatmap(Float32Array.from(cam.values), cam.width, cam.height, HEAT_SIDE);
      this.#heat.getContext('2d').putImageData(new ImageData(rgba, HEAT_SIDE, HEAT_SIDE), 0, 0);
      g.globalAlpha = this.opacity;
      g.imageSmoothingEnabled = true;
      g.drawImage(this.#heat, ...rect);
      g.globalAlpha = 1;
      // the strongest cell of the raw map, whose centre is the resized map's peak
      const peak = cam.values.indexOf(Math.max(...cam.values));
      const [px, py] = [(peak % cam.width + 0.5) / cam.width, (Math.floor(peak / cam.width) + 0.5) / cam.height];
      canvas.dataset.peak = [rect[0] + px * rect[2], rect[1] + py * rect[3]].map((v) => v.toFixed(1)).join(',');
      canvas.dataset.cam = label;
    } else {
      delete canvas.dataset.peak;
      canvas.dataset.cam = '';
    }
    g.strokeStyle = 'rgb(255 255 255 / 0.85)';
    g.lineWidth = 1.5;
    g.setLineDash([6, 4]);
    g.strokeRect(...rect);
    canvas.hidden = false;
  }

  /** Draws the last frame again (the stage was resized, the opacity changed). */
  redraw() {
    if (this.#last) this.draw(this.#last);
  }

  clear() {
    this.#last = null;
    this.#canvas.hidden = true;
    delete this.#canvas.dataset.crop;
    delete this.#canvas.dataset.peak;
    delete this.#canvas.dataset.cam;
  }
}
