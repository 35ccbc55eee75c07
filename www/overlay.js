// What is drawn over the camera or the picture in #stage: the outline of the centre crop the
// network classifies with the rest of the frame shaded (#cam, a canvas over the whole
// stage, drawn again only when the crop's place changes), and, when asked for, a class
// activation map over the crop (#cam-heat, a small canvas the browser scales onto the crop
// and fades by CSS opacity). Per frame only the small map's pixels change. Measured on the
// CPU backend here (browser test cam_cost, frames with maps over frames without): the map
// computed and read back but never shown 0.99; drawn into the stage-sized canvas 1.03-1.09;
// this layer taken out of the page between frames without maps 1.06; kept and hidden by
// `visibility` 0.99-1.04 (on SwiftShader the browser composites on the same two cores as
// the network runs on).
import { heatmap } from './api.js';

// The map's resolution over the crop: 8 pixels a cell of GoogLeNet's 7x7 map, resampled as
// `inception classify --cam-out` does; the browser's scaling to the screen is bilinear too.
const HEAT_SIDE = 56;
const SHADE = 'rgb(0 0 0 / 0.3)';

export class Overlay {
  #shade; // the outline and shade canvas
  #heat; // the map's canvas
  #last = null; // what draw() was last given, for redraw()
  #drawn = ''; // the geometry the shade canvas shows
  opacity = 0.6;

  constructor(shade, heat) {
    this.#shade = shade;
    this.#heat = heat;
    [heat.width, heat.height] = [HEAT_SIDE, HEAT_SIDE];
  }

  /**
   * Draws over `shown` (the <video> or <canvas> element showing the image, `object-fit:
   * contain`) the `crop` ([x, y, width, height]) the network takes of its `width` x `height`
   * image, and `cam` (a prediction's activation map, or null) over it; `label` names the
   * class of the map.
   */
  draw(frame) {
    this.#last = frame;
    const { shown, width, height, crop, cam, label } = frame;
    const [boxW, boxH] = [shown.clientWidth, shown.clientHeight];
    // object-fit: contain: the image scaled to fit, centred
    const scale = Math.min(boxW / width, boxH / height);
    const [left, top] = [(boxW - width * scale) / 2, (boxH - height * scale) / 2];
    const [x, y, w, h] = crop;
    const rect = [left + x * scale, top + y * scale, w * scale, h * scale];
    const geometry = [boxW, boxH, left, top, ...rect, window.devicePixelRatio].join();
    if (geometry !== this.#drawn) this.#drawShade(boxW, boxH, [left, top, width * scale, height * scale], rect);
    this.#drawn = geometry;
    const heat = this.#heat;
    // (hidden, not taken out of the page: taking the layer out and back costs more than
    // the map's pixels)
    heat.hidden = false;
    heat.style.visibility = cam ? 'visible' : 'hidden';
    if (cam) {
      heat.getContext('2d').putImageData(heatmap(cam, HEAT_SIDE), 0, 0);
      Object.assign(heat.style, {
        left: `${rect[0]}px`, top: `${rect[1]}px`, width: `${rect[2]}px`, height: `${rect[3]}px`, opacity: this.opacity,
      });
      // the strongest cell of the raw map, whose centre is the resized map's peak
      const peak = cam.values.indexOf(Math.max(...cam.values));
      const [px, py] = [(peak % cam.width + 0.5) / cam.width, (Math.floor(peak / cam.width) + 0.5) / cam.height];
      this.#shade.dataset.peak = [rect[0] + px * rect[2], rect[1] + py * rect[3]].map((v) => v.toFixed(1)).join(',');
    } else {
      delete this.#shade.dataset.peak;
    }
    this.#shade.dataset.cam = cam ? label : '';
    this.#shade.dataset.crop = rect.map((v) => v.toFixed(1)).join(',');
  }

  /** The image less the crop shaded, the crop outlined: in CSS pixels of the stage. */
  #drawShade(boxW, boxH, image, rect) {
    const canvas = this.#shade;
    const dpr = window.devicePixelRatio || 1;
    [canvas.width, canvas.height] = [Math.round(boxW * dpr), Math.round(boxH * dpr)];
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = SHADE;
    g.beginPath();
    g.rect(...image);
    g.rect(...rect);
    g.fill('evenodd');
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
    this.#drawn = '';
    this.#shade.hidden = true;
    this.#heat.hidden = true;
    for (const key of ['crop', 'peak', 'cam']) delete this.#shade.dataset[key];
  }
}
