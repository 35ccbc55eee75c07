// Images larger than a backend takes, made to fit: a panorama of 20000 x 800 pixels or a
// 50-megapixel photo is an ordinary photo to a person. Used by the page (app.js) and the
// API (api.js). And files that are not whole images, named as the native program names
// them (read_image in src/main.rs), so the same file gets the same answer.

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

/**
 * Why the bytes of `file` cannot be classified before any decoding, or null: an empty file,
 * or a JPEG cut short (browsers decode part of one, or refuse it, by engine).
 */
export async function fileProblem(file) {
  if (file.size === 0) return `"${file.name}" is empty (0 bytes)`;
  const bytes = new Uint8Array(await file.arrayBuffer());
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (jpeg && !jpegIsComplete(bytes)) return `"${file.name}" is a truncated JPEG file: it ends before its end-of-image marker`;
  return null;
}

/**
 * Whether a JPEG's last scan (after its last start-of-scan marker, FF DA) is followed by
 * the end-of-image marker (FF D9); neither occurs inside entropy-coded data, where an FF is
 * followed by 00. The twin of jpeg_is_complete in src/main.rs.
 */
function jpegIsComplete(bytes) {
  let lastScan = -1;
  for (let i = bytes.length - 2; i >= 0; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xda) { lastScan = i; break; }
  }
  if (lastScan < 0) return false;
  for (let i = lastScan; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}
