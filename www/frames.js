// Handing an image to a network: on the GPU copied into its input texture, on the CPU as
// RGBA pixels drawn through a canvas. Used by api.js.

import { adapterName } from './engines.js';

// Copying straight from a <video> element is the fast path, but on some adapters it loses
// the whole device (SwiftShader does). Software adapters, and adapters on which an attempt
// ended in a lost device (remembered per adapter), go through createImageBitmap.
// Decided once per engine (not read from localStorage each frame): 'bitmap', 'untried' or 'ok'.
const videoCopyKey = (engine) => `inception.video-copy.${adapterName(engine)}`;
const videoCopy = new WeakMap(); // GPU engine -> { key, state }

function videoCopyOf(engine) {
  if (!videoCopy.has(engine)) {
    const key = videoCopyKey(engine);
    const saved = localStorage.getItem(key);
    const state = isSoftware(engine) || saved === 'broken' ? 'bitmap' : saved === 'ok' ? 'ok' : 'untried';
    videoCopy.set(engine, { key, state });
  }
  return videoCopy.get(engine);
}

/** Whether `engine`'s adapter is a software one (SwiftShader, WARP, llvmpipe). */
export const isSoftware = (engine) => engine.device().adapterInfo?.isFallbackAdapter === true;

/** `engine`'s device was lost: a video copy tried on it is the likely cause, and is not tried again. */
export function deviceLost(engine) {
  if (localStorage.getItem(videoCopyKey(engine)) === 'trying') localStorage.setItem(videoCopyKey(engine), 'broken');
}

/** The width and height of an image source. */
export function sizeOf(source) {
  if (source instanceof HTMLVideoElement) return [source.videoWidth, source.videoHeight];
  if (source instanceof HTMLImageElement) return [source.naturalWidth, source.naturalHeight];
  if (typeof VideoFrame !== 'undefined' && source instanceof VideoFrame) return [source.displayWidth, source.displayHeight];
  return [source.width, source.height];
}

let canvas = null; // the canvas CPU frames are drawn into, kept for the next

/** The RGBA pixels of an image source. */
function pixels(source, width, height) {
  if (source instanceof ImageData) return source.data;
  canvas ??= new OffscreenCanvas(width, height);
  if (canvas.width !== width || canvas.height !== height) [canvas.width, canvas.height] = [width, height];
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.drawImage(source, 0, 0, width, height);
  return g.getImageData(0, 0, width, height).data;
}

/** Gives `source` (width x height) to `net`, a network built on `engine`. */
export async function upload(engine, net, source, width, height) {
  if (net.backend() === 'cpu') {
    net.setImage(pixels(source, width, height), width, height);
    return;
  }
  const device = engine.device();
  const texture = net.texture(width, height);
  const copy = (src) => device.queue.copyExternalImageToTexture({ source: src }, { texture }, [width, height]);
  const direct = source instanceof HTMLVideoElement ? videoCopyOf(engine) : null;
  if (direct && direct.state !== 'bitmap') {
    if (direct.state === 'untried') localStorage.setItem(direct.key, 'trying');
    device.pushErrorScope('validation');
    let thrown = null;
    try { copy(source); } catch (e) { thrown = e; }
    const error = await device.popErrorScope();
    if (!thrown && !error) {
      if (direct.state === 'untried') localStorage.setItem(direct.key, 'ok');
      direct.state = 'ok';
      return;
    }
    localStorage.setItem(direct.key, 'broken');
    direct.state = 'bitmap';
    console.info('copying video frames through createImageBitmap:', (thrown || error).message);
  }
  if (source instanceof HTMLVideoElement) {
    const bitmap = await createImageBitmap(source);
    try { copy(bitmap); } finally { bitmap.close(); }
  } else {
    copy(source);
  }
}

/** A fixed 640x480 picture, drawn rather than downloaded, for timing passes. */
export function probePicture() {
  const canvas = new OffscreenCanvas(640, 480);
  const g = canvas.getContext('2d');
  const grad = g.createLinearGradient(0, 0, 640, 480);
  grad.addColorStop(0, '#1d3557');
  grad.addColorStop(0.5, '#e9c46a');
  grad.addColorStop(1, '#e76f51');
  g.fillStyle = grad;
  g.fillRect(0, 0, 640, 480);
  g.fillStyle = '#2a9d8f';
  g.beginPath();
  g.arc(320, 240, 120, 0, 2 * Math.PI);
  g.fill();
  return createImageBitmap(canvas);
}

/** The median of `values`. */
export const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Median milliseconds of `runs` passes of `net` on `bitmap`, upload to top-5, after a warm-up. */
export async function timePasses(engine, net, bitmap, runs) {
  const times = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    await upload(engine, net, bitmap, bitmap.width, bitmap.height);
    await net.run();
    if (i > 0) times.push(performance.now() - t0);
  }
  return median(times);
}
