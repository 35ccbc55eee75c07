// Types of api.js: Inception (GoogLeNet, Inception v3) image classification in the browser,
// on the GPU (WebGPU) or the CPU (WebAssembly SIMD, threaded where the page is cross-origin
// isolated), whichever is faster on the device.

export interface LoadOptions {
  /** A model of the site's weights/models.json (e.g. "bvlc", "googlenet", "inception_v3"); with
   *  `weights`, the network the file must be (omitted: recognised from the tensor names). */
  model?: string;
  /** A weights file (safetensors or a PyTorch checkpoint): a URL, a Blob (a picked File) or its
   *  bytes. Omitted: the site's file for `model` (or its first model), cached after one download. */
  weights?: string | URL | Blob | ArrayBuffer | Uint8Array;
  /** Class names, one per class: an array, or a text with one per line. */
  labels?: string[] | string;
  /** "auto" (default) builds both and keeps the faster measured; "gpu" fails without WebGPU. */
  backend?: 'auto' | 'gpu' | 'cpu';
  /** CPU threads (default: every core; 1 where the page is not cross-origin isolated). */
  threads?: number;
  /** Follows the weights download; `cached` when they came from the browser's cache. */
  onProgress?: (progress: { loaded: number; total: number; cached: boolean }) => void;
}

export interface Prediction {
  index: number;
  label: string;
  probability: number;
  /** With `{ cams: true }`: the class activation map (Zhou et al. 2016), the classifier's
   *  weights for this class over the last feature maps: a grid (7x7 for GoogLeNet, 8x8 for
   *  Inception v3), row-major, over `crop`. `heatmap(cam)` makes an image of it. */
  cam?: ActivationMap;
  /** With `{ cams: true }`: the part of the source the network saw, [x, y, width, height]
   *  in the source's pixels (the centre crop after resizing the shorter side). */
  crop?: [number, number, number, number];
}

export interface ActivationMap {
  width: number;
  height: number;
  values: number[];
}

export interface ClassifyOptions {
  /** Also compute each class's activation map (in the same pass; about 1-3% of its time). */
  cams?: boolean;
}

export type ImageSource = HTMLVideoElement | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | ImageBitmap | ImageData | Blob | VideoFrame;

export interface Classifier {
  readonly backend: 'gpu' | 'cpu';
  /** Why that backend: "asked for", "no WebGPU adapter", or both measured figures. */
  readonly backendReason: string;
  readonly model: string;
  readonly title: string;
  readonly classes: number;
  /** The network's input side in pixels (224 or 299): images are resized and centre-cropped to it. */
  readonly inputSize: number;
  /** The site's weights precision ("int8", "float16", "float32"), null for weights passed in. */
  readonly precision: string | null;
  /**
   * The five most probable classes, most probable first. Calls run one at a time, in order.
   * An image larger than the backend takes (the GPU's texture limit; 8192 pixels per side on
   * the CPU) is scaled down to fit first.
   */
  classify(source: ImageSource, options?: ClassifyOptions): Promise<Prediction[]>;
  /** Frees GPU buffers, wasm memory and the CPU worker; classify() then rejects. */
  close(): void;
}

/** An activation map as `size` x `size` pixels (default 224) to draw over the prediction's
 *  crop: resampled smoothly, normalised, "jet" colours with alpha rising with the activation. */
export function heatmap(cam: ActivationMap, size?: number): ImageData;

/** Downloads (or reads from the cache) the weights, builds the network, picks the backend. */
export function load(options?: LoadOptions): Promise<Classifier>;
