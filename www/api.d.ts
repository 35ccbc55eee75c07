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
  /** "auto" (default): the faster of both, measured once per adapter and model and remembered
   *  (localStorage); "gpu" fails without WebGPU; "cpu" never opens WebGPU. */
  backend?: 'auto' | 'gpu' | 'cpu';
  /** "measured" (default): load() resolves on the faster backend, its GPU kernels tuned.
   *  "fast": load() resolves as soon as a backend is ready (the remembered one, else the CPU),
   *  and `improve()` measures and tunes afterwards, between the caller's frames. */
  start?: 'measured' | 'fast';
  /** What the CPU computes in: "auto" (default) int8 where the weights file is calibrated for it
   *  (`inception convert --calibrate`, as the site's int8 file is) and this build has a SIMD
   *  int8 kernel, else float32; "int8" also with the portable kernel; "f32" never int8. A file
   *  without calibration runs float32 and `computeReason` says why. The GPU computes in float. */
  compute?: 'auto' | 'f32' | 'int8';
  /** Tune the GPU's convolution kernels for this adapter (default true; kept in localStorage). */
  autotune?: boolean;
  /** CPU threads (default: every core; 1 where the page is not cross-origin isolated). The
   *  first load's choice holds for the page: later loads share its engines. */
  threads?: number;
  /** Use relaxed SIMD in the threaded CPU build where the browser has it (default true). */
  relaxed?: boolean;
  /** Follows the load: the weights download (`loaded`, `total`; `cached` when they came from
   *  the browser's cache), then 'build', 'compile' (GPU shaders), 'measure' and 'tune'. */
  onProgress?: (progress: Progress) => void;
}

export interface Progress {
  phase: 'download' | 'build' | 'compile' | 'measure' | 'tune';
  loaded?: number;
  total?: number;
  cached?: boolean;
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

/**
 * A network ready to classify. Events: 'backendchange' (the backend, or why it runs, changed:
 * improve() moved to the GPU, or a lost device was replaced); 'devicelost' (a CustomEvent
 * whose `detail` is DeviceLoss: the network is being built again meanwhile).
 */
export interface Classifier extends EventTarget {
  readonly backend: 'gpu' | 'cpu';
  /** Why that backend: "asked for", "no WebGPU adapter: ...", or both measured figures. */
  readonly backendReason: string;
  /** The backend choice with its measured milliseconds per image, where measured. */
  readonly choice: { name: 'gpu' | 'cpu'; reason: string; gpuMs?: number; cpuMs?: number };
  /** What it computes in: "int8" or "f32" on the CPU, the weights' precision ("f32", "f16") on the GPU. */
  readonly compute: string;
  /** Why, in words: "int8 asked", "the weights file is calibrated for int8", "the weights file
   *  has no int8 calibration (...)", "the GPU computes in float". */
  readonly computeReason: string;
  /** What runs it, in words: the GPU adapter, or the CPU build and its threads. */
  readonly device: string;
  /** The engine's figures of the network: multiply-adds, tensors, input size, memory. */
  readonly stats: Record<string, unknown>;
  /** The GPU kernels' tile counts and tuning time, null where untuned (or on the CPU). */
  readonly kernels: { tiles: Record<string, number>; tuneMs: number | null } | null;
  /** Calls worth keeping in flight for a video: 2 on a hardware GPU (the next frame is handed
   *  over while this one's result is read back), 1 where the page's own cores compute. */
  readonly framesInFlight: number;
  /** The longest image side the backend takes (larger images are scaled down first). */
  readonly maxSide: number;
  /** The last pass: milliseconds from the call to the result, of which handing the image over,
   *  and the GPU's own time where the adapter has timestamp queries. */
  readonly lastPass: { ms: number; uploadMs: number; gpuMs: number | null } | null;
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
  /** The crop the network sees of a `width` x `height` image: [x, y, width, height]. */
  crop(width: number, height: number): [number, number, number, number];
  /** With `start: 'fast'`: measures the GPU against the CPU (moving to it if faster) and tunes
   *  its kernels, a step at a time with `between()` awaited between steps (default: the next
   *  paint); a camera page passes "until my next frame is shown". Resolves when done. */
  improve(options?: { between?: () => Promise<unknown> }): Promise<void>;
  /** The network as parts (layers, and blocks of branches) with shapes, parameters, multiply-adds. */
  architecture(): Promise<Architecture>;
  /** One pass on the last image, each layer timed alone (GPU timestamps or the CPU clock). */
  profile(): Promise<{ layer: string; kernel: string; ms: number; multiplyAdds: number; nodes: number[] }[]>;
  /** The tensor `tensor` (an architecture part's) of a pass on the last image: C x H x W floats. */
  activation(tensor: number): Promise<Float32Array>;
  /** `runs` whole passes on the last image: each one's milliseconds, and how they were timed. */
  passes(runs: number): Promise<{ ms: number[]; timed: 'GPU timestamps' | 'CPU clock' }>;
  /** Memory held: the engine's wasm memory, the CPU worker's, the live GPU objects by kind. */
  memory(): Promise<{ wasmBytes: number; workerWasmBytes: number | null; gpuObjects: Record<string, number> }>;
  /** Frees the network (GPU buffers, wasm memory); classify() then rejects. The engines (the GPU
   *  device, the CPU worker) stay open for later loads. */
  close(): void;
}

export interface DeviceLoss {
  reason: string;
  message: string;
  /** GPU devices lost within the last minute; at 3 the network moves to the CPU for good. */
  losses: number;
  toCpu: boolean;
  /** Resolves once the network runs again (with the seconds it took), rejects if it cannot. */
  recovered: Promise<{ seconds: number }>;
}

/** The graph as the engine describes it (src/architecture.rs): see its to_json. */
export interface Architecture {
  input: [number, number, number];
  parts: Record<string, unknown>[];
}

/**
 * Compiles the engine and opens the backends load() would use (later loads share them), so
 * that a page can say early what runs here. Rejects with `kind` 'engine' (no WebAssembly
 * SIMD) or 'webgpu' (backend 'gpu' asked for and none; `why` says why, in words); resolves
 * to whether WebGPU runs. `onProgress` hears 'engine' (compiled), then 'cpu' and 'gpu' (open).
 */
export function ready(options?: Pick<LoadOptions, 'backend' | 'threads' | 'relaxed'> &
  { onProgress?: (progress: { phase: 'engine' | 'cpu' | 'gpu' }) => void }): Promise<{ gpu: boolean; why: string | null }>;

/** The `perBranch` strongest feature maps of each channel range of a C x H x W tensor, as RGBA
 *  tiles: `ranges` holds (first channel, channels) pairs; one row of tiles per range. */
export function featureMapTiles(values: Float32Array, channels: number, height: number, width: number,
  ranges: Uint32Array, perBranch: number): Uint8ClampedArray;

/** The wasm builds this page loaded (e.g. ["pkg-threads-relaxed/"]: one, the threads build,
 *  where the page is cross-origin isolated): what an offline copy of the page must keep. */
export function wasmBuilds(): string[];

/** An activation map as `size` x `size` pixels (default 224) to draw over the prediction's
 *  crop: resampled smoothly, normalised, "jet" colours with alpha rising with the activation. */
export function heatmap(cam: ActivationMap, size?: number): ImageData; // (after load() or ready())

/** Downloads (or reads from the cache) the weights, builds the network, picks the backend.
 *  Rejects with `kind` 'weights' (a file that fits no network, with why), 'engine' or 'webgpu'. */
export function load(options?: LoadOptions): Promise<Classifier>;
