// Images larger than a backend takes, made to fit: a panorama of 20000 x 800 pixels or a
// 50-megapixel photo is an ordinary photo to a person. Used by the page (app.js) and the
// API (api.js).

// The CPU backend's input: its pixels pass through a canvas and into wasm memory (4 bytes
// each, three copies at once); past this many per side the network's own resize to its
// 224 or 299 pixels loses nothing to a browser's downscale first.
const CPU_MAX_SIDE = 8192;

/** The longest side `classifier` takes: the GPU's texture limit, or CPU_MAX_SIDE. */
export function maxSide(classifier, device) {
  return classifier.backend() === 'gpu' ? device.limits.maxTextureDimension2D : CPU_MAX_SIDE;
}

/**
 * `bitmap` itself when it fits within `side` pixels per side, else a new bitmap scaled down
 * to fit (the aspect kept, the browser's high-quality resampling); `bitmap` stays open.
 */
export async function fitWithin(bitmap, side) {
  const scale = side / Math.max(bitmap.width, bitmap.height);
  if (scale >= 1) return bitmap;
  const resizeWidth = Math.max(1, Math.round(bitmap.width * scale));
  const resizeHeight = Math.max(1, Math.round(bitmap.height * scale));
  return createImageBitmap(bitmap, { resizeWidth, resizeHeight, resizeQuality: 'high' });
}
