// End-to-end tests of the page in Debian's headless Chromium (WebGPU on SwiftShader), run by
// `cargo xtask test` against the built site served from a sub-path. Prints PASS/FAIL per
// scenario; exits non-zero if any fails.
//
//   node e2e.mjs --base http://127.0.0.1:PORT/inception/ --site SITE_DIR --y4m tiger_cat.y4m
//     --expected tiger_cat.native.json --pug pug.jpg --weights bvlc_googlenet.safetensors
//     --png tiger_cat.224.png --v3-expected v3.native.json --tutorial tutorial.pth
//     --tutorial-labels classes.txt --tutorial-expected tutorial.native.json
//     --png-expected bvlc_png.native.json --artifacts DIR
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { deprecations, launch, parseArgs, watchConsole, WEBGPU } from './common.mjs';

const a = parseArgs(process.argv.slice(2), {
  base: '', site: '', readme: '', y4m: '', expected: '', pug: '', weights: '', artifacts: '',
  png: '', 'v3-expected': '', tutorial: '', 'tutorial-labels': '', 'tutorial-expected': '', 'png-expected': '',
  'int8-weights': '', 'int8-expected': '', // an int8 file calibrated without tiger cat, and native int8's answer on the PNG
  'cam-native': '', // the native program's classify --cam --json of the fake camera's frame
  odd: '', 'odd-native': '', // the odd-image corpus (cargo xtask odd-images) and the native program's answers
  'threads-built': '1', // 0: the site has no wasm threads build (no nightly Rust): threaded checks skipped
  only: '', // comma-separated scenario names, to rerun a few while debugging
});
const origin = new URL(a.base).origin;
const LONG = 300_000; // SwiftShader takes seconds per frame; loading compiles every shader
// Camera frame vs the native program on the decoded frame: the browser's own YUV -> RGB
// conversion and chroma upsampling differ slightly from ours.
const PROBABILITY_TOLERANCE = 0.05;
const CAMERA = ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${a.y4m}`];

const results = [];
const failures = []; // repeated at the end, where a log cut short in the middle still shows them
async function scenario(name, body) {
  if (a.only && !a.only.split(',').includes(name)) return;
  const t0 = Date.now();
  try {
    await body();
    results.push(name);
    console.log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    process.exitCode = 1;
    failures.push(`${name}: ${String(e.message ?? e).split('\n')[0]}`);
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const top5 = (page) => page.$$eval('#top5 li', (lis) => lis.map((li) => ({
  index: Number(li.dataset.index), label: li.querySelector('.label').textContent, p: Number(li.dataset.probability),
})));

const waitTop = (page, label) => page.waitForFunction(
  (l) => document.querySelector('#top5 li .label')?.textContent === l, label, { timeout: LONG, polling: 250 });

async function waitMessage(page, kind) {
  const card = await page.waitForSelector(`#messages [data-kind="${kind}"]`, { timeout: LONG });
  return card.innerText();
}

const frames = (page) => page.evaluate(() => Number(document.body.dataset.frames || 0));

/** Records every request a page makes, with the number of frames classified by then. */
function recordRequests(page) {
  const log = [];
  page.on('request', (r) => log.push({ url: r.url(), frames: null }));
  return log;
}

function softmax(logits) {
  const max = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - max));
  const sum = e.reduce((s, x) => s + x, 0);
  return e.map((x) => x / sum);
}

// ---- steady labels (smoothing.js, plain JavaScript: run here in Node) ----
await scenario('steady_labels', async () => {
  const { Smoother } = await import(pathToFileURL(path.join(a.site, 'smoothing.js')).href);
  const frame = (pa) => [{ index: 1, label: 'a', probability: pa }, { index: 2, label: 'b', probability: 1 - pa }];
  const s = new Smoother();
  // the same frame again and again: exactly that frame
  for (let t = 0; t < 500; t += 33) {
    const out = s.add(frame(0.6), t);
    check(out[0].probability === 0.6 && out[1].probability === 0.4, `constant frames averaged to ${JSON.stringify(out)}`);
  }
  // two classes trading places every frame at 30 frames/s, 'a' ahead on average: the raw
  // top-1 flips every frame, the smoothed one stays 'a' after the first frames
  s.reset();
  let flips = 0;
  for (let i = 0; i < 60; i++) {
    const out = s.add(frame(i % 2 ? 0.45 : 0.6), i * 33);
    if (i >= 5 && out[0].label !== 'a') flips++;
  }
  check(flips === 0, `the smoothed top-1 changed ${flips} times`);
  // time-based: a class that appears reaches 1 - 1/e of its probability after 400 ms,
  // at 30 frames/s and at 2.5 frames/s alike
  for (const fps of [30, 2.5]) {
    s.reset();
    s.add([{ index: 9, label: 'before', probability: 1 }], 0);
    let out;
    for (let t = 1000 / fps; t <= 400.001; t += 1000 / fps) out = s.add([{ index: 5, label: 'new', probability: 1 }], t);
    const p = out.find((o) => o.label === 'new').probability;
    check(Math.abs(p - (1 - Math.exp(-1))) < 0.01, `at ${fps} frames/s the new class has ${p.toFixed(3)} after 400 ms`);
  }
  // a class gone from the frames fades and is forgotten
  for (let t = 433; t < 5000; t += 33) s.add([{ index: 5, label: 'new', probability: 1 }], t);
  check(s.add([{ index: 5, label: 'new', probability: 1 }], 5000).length === 1, 'a vanished class is still listed');
});

// ---- the live camera, an uploaded image, no stray requests, the cache ----
{
  const browser = await launch([WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await context.newPage();
  watchConsole(page, 'camera');
  const requests = recordRequests(page);
  // violations of the Content-Security-Policy the server sends (strict: see xtask/src/csp.txt)
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  let requestsAtReady = 0;

  await scenario('camera_tiger_cat', async () => {
    await page.goto(a.base);
    await waitTop(page, 'tiger cat');
    requestsAtReady = requests.length;
    const got = await top5(page);
    const native = JSON.parse(fs.readFileSync(a.expected, 'utf8'))[0];
    const p = softmax(native.logits);
    let worst = 0;
    for (const { index, p: browserP } of got) worst = Math.max(worst, Math.abs(browserP - p[index]));
    console.log(`  browser top-5 ${JSON.stringify(got.map((g) => [g.label, +g.p.toFixed(4)]))}`);
    console.log(`  native  top-5 ${JSON.stringify(native.top.map((t) => [t.label, +t.probability.toFixed(4)]))}`);
    console.log(`  max probability difference ${worst.toFixed(4)} (allowed ${PROBABILITY_TOLERANCE})`);
    check(got[0].index === native.top[0].index, 'top class differs from the native program');
    check(worst <= PROBABILITY_TOLERANCE, `probabilities differ from native by ${worst}`);
    if (a.artifacts) {
      await page.waitForFunction(() => document.getElementById('fps').textContent !== '–', null, { timeout: LONG });
      await page.screenshot({ path: path.join(a.artifacts, 'tiger_cat.png') });
    }
  });

  await scenario('no_requests_after_load', async () => {
    const before = await frames(page);
    await page.waitForFunction((n) => Number(document.body.dataset.frames) >= n + 2, before, { timeout: LONG });
    const late = requests.slice(requestsAtReady);
    check(late.length === 0, `requests after loading: ${late.map((r) => r.url).join(', ')}`);
  });

  // the activation map over the crop the network sees, turned on while the camera runs
  await scenario('cam_overlay', async () => {
    await page.check('#cam-on');
    await page.waitForFunction(() => document.getElementById('cam').dataset.cam === 'tiger cat', null, { timeout: LONG, polling: 250 });
    const o = await overlayState(page);
    // the crop, worked out here from the frame's size as torchvision's Resize(256) +
    // CenterCrop(224) takes it, in the video element's box (object-fit: contain)
    const [W, H] = o.size;
    const [boxW, boxH] = o.box;
    const [rw, rh] = W <= H ? [256, Math.floor(256 * H / W)] : [Math.floor(256 * W / H), 256];
    const offset = (r) => { const d = (r - 224) / 2; return d % 1 === 0.5 && Math.floor(d) % 2 === 0 ? Math.floor(d) : Math.round(d); };
    const scale = Math.min(boxW / W, boxH / H);
    const [left, top] = [(boxW - W * scale) / 2, (boxH - H * scale) / 2];
    const want = [left + offset(rw) * (W / rw) * scale, top + offset(rh) * (H / rh) * scale, 224 * (W / rw) * scale, 224 * (H / rh) * scale];
    console.log(`  frame ${W}x${H} in a ${boxW}x${boxH} box: crop outlined at ${o.crop.map((v) => v.toFixed(1))}, expected ${want.map((v) => v.toFixed(1))}`);
    check(o.crop.every((v, i) => Math.abs(v - want[i]) <= 0.5), 'the crop outline is not where the network\'s crop is');
    // the map's peak: where the native program's map of the same frame peaks (within one
    // cell of GoogLeNet's 7x7 grid: the camera's colour conversion differs a little)
    const native = JSON.parse(fs.readFileSync(a['cam-native'], 'utf8'))[0].top[0].cam;
    const n = native.values.indexOf(Math.max(...native.values));
    const nativePeak = [n % native.width, Math.floor(n / native.width)];
    const pagePeak = [(o.peak[0] - o.crop[0]) / o.crop[2] * 224, (o.peak[1] - o.crop[1]) / o.crop[3] * 224];
    console.log(`  peak in the 224x224 crop: page ${pagePeak.map((v) => v.toFixed(0))}, native ${nativePeak}`);
    check(pagePeak.every((v, i) => Math.abs(v - nativePeak[i]) <= 32), 'the map peaks elsewhere than the native program\'s');
    // drawn: the map laid exactly over the crop, red heat at the peak, some heat everywhere
    // in the crop, faded by the opacity; only the shade outside
    check(o.heatBox.every((v, i) => Math.abs(v - o.crop[i]) <= 0.5), `the map lies at ${o.heatBox}, the crop at ${o.crop}`);
    check(o.atPeak[0] > 100 && o.atPeak[2] < 60 && o.atPeak[3] > 200, `no heat at the peak: rgba ${o.atPeak}`);
    check(o.inCropCorner[3] > 60, `no heat in the crop's corner: rgba ${o.inCropCorner}`);
    check(o.opacity === 0.6, `the map's opacity is ${o.opacity}`);
    check(o.outside[3] > 50 && o.outside[3] < 100 && o.outside[0] === 0, `outside the crop is not shaded: rgba ${o.outside}`);
    if (a.artifacts) {
      await page.screenshot({ path: path.join(a.artifacts, 'cam_overlay.png') });
      // the README's copy (docs/cam_overlay.jpg): the stage and the panel
      await page.screenshot({ path: path.join(a.artifacts, 'cam_overlay.jpg'), type: 'jpeg', quality: 70, clip: await page.locator('main').boundingBox() });
    }
    // a tap on the second class shows its map; opacity 0 leaves only the outline and shade
    const second = (await top5(page))[1];
    await page.click('#top5 li:nth-child(2)');
    await page.waitForFunction((l) => document.getElementById('cam').dataset.cam === l, second.label, { timeout: LONG, polling: 250 });
    check(await page.$eval('#top5 li:nth-child(2)', (li) => li.classList.contains('cam-shown')), 'the picked class is not marked');
    await page.fill('#cam-opacity', '0');
    await page.dispatchEvent('#cam-opacity', 'input');
    const faded = await overlayState(page);
    check(faded.opacity === 0, `opacity 0 still shows the map (opacity ${faded.opacity})`);
    await page.fill('#cam-opacity', '0.6');
    await page.dispatchEvent('#cam-opacity', 'input');
    await page.uncheck('#cam-on');
    await page.waitForFunction(() => document.getElementById('cam').dataset.cam === '', null, { timeout: LONG, polling: 250 });
  });

  await scenario('upload_pug', async () => {
    await page.setInputFiles('#file', a.pug);
    await waitTop(page, 'pug');
    const got = await top5(page);
    console.log(`  top-5 ${JSON.stringify(got.map((g) => [g.label, +g.p.toFixed(4)]))}`);
    check(requests.length === requestsAtReady, 'classifying a file made network requests');
    // a file that is no image: its message, and the pug's result no longer on screen
    const notes = path.join(a.artifacts || '/tmp', 'not-an-image.jpg');
    fs.writeFileSync(notes, 'not an image');
    await page.setInputFiles('#file', notes);
    await expectMessage(page, 'image', /not an image/, 'that the file is not an image');
    check((await top5(page)).length === 0, 'the previous image\'s top-5 is still shown');
  });

  await scenario('strict_csp', async () => {
    const response = await page.request.get(a.base);
    const csp = response.headers()['content-security-policy'] ?? '';
    console.log(`  served with: ${csp}`);
    check(/default-src 'self'/.test(csp) && /script-src 'self' 'wasm-unsafe-eval'/.test(csp) && !/unsafe-inline/.test(csp),
      'the page is not served with the strict policy');
    const violations = await page.evaluate(() => window.__cspViolations);
    check(violations.length === 0, `violations: ${violations.join('; ')}`);
  });

  await scenario('same_origin_only', async () => {
    const foreign = requests.filter((r) => !r.url.startsWith(origin + '/') && !/^(data|blob):/.test(r.url));
    check(foreign.length === 0, `requests to other origins: ${foreign.map((r) => r.url).join(', ')}`);
    check(requests.some((r) => /\/inception\/pkg(-threads(-relaxed)?)?\//.test(r.url)), 'the wasm was not loaded from the sub-path');
    // one wasm build for the page and its CPU worker: where the page is isolated, the threads
    // build serves the page's own thread too (else pkg/ there as well would be 0.92 MB more)
    // (the worker's requests are the page's in Playwright: the same URL twice, page and worker)
    const fetched = requests.filter((r) => r.url.endsWith('_bg.wasm')).map((r) => r.url.slice(origin.length));
    const wasm = [...new Set(fetched)];
    console.log(`  wasm loaded: ${wasm.join(', ')} (${fetched.length} requests)`);
    check(wasm.length === 1, `${wasm.length} wasm modules loaded: ${wasm.join(', ')}`);
    if (a['threads-built'] === '1') check(/pkg-threads/.test(wasm[0]), `an isolated page runs ${wasm[0]}, not a threads build`);
  });

  await scenario('weights_cached', async () => {
    const second = await context.newPage();
    watchConsole(second, 'second visit');
    const again = recordRequests(second);
    await second.goto(a.base);
    await waitTop(second, 'tiger cat');
    const downloads = again.filter((r) => r.url.includes('.safetensors'));
    check(downloads.length === 0, `the weights were downloaded again: ${downloads.map((r) => r.url)}`);
    await second.close();
  });
  await browser.close();
}

/**
 * The overlay's crop outline and map peak (CSS pixels in the stage), the frame's and the
 * box's sizes, where the map lies and its opacity, the map's pixels at the peak and in the
 * crop's corner, and the shade's outside the crop.
 */
function overlayState(page) {
  return page.evaluate(() => {
    const video = document.getElementById('video');
    const [shade, heat] = [document.getElementById('cam'), document.getElementById('cam-heat')];
    const numbers = (s) => (s ?? '').split(',').map(Number);
    const [crop, peak] = [numbers(shade.dataset.crop), numbers(shade.dataset.peak)];
    const pixel = (canvas, x, y) => [...canvas.getContext('2d').getImageData(Math.floor(x), Math.floor(y), 1, 1).data];
    const dpr = shade.width / shade.clientWidth;
    // the map's pixel under a point of the stage
    const onMap = (x, y) => pixel(heat, (x - crop[0]) / crop[2] * heat.width, (y - crop[1]) / crop[3] * heat.height);
    return {
      crop, peak, size: [video.videoWidth, video.videoHeight], box: [video.clientWidth, video.clientHeight],
      heatBox: [heat.offsetLeft, heat.offsetTop, heat.offsetWidth, heat.offsetHeight],
      opacity: Number(getComputedStyle(heat).opacity),
      atPeak: onMap(peak[0], peak[1]), inCropCorner: onMap(crop[0] + 2, crop[1] + 2),
      outside: pixel(shade, crop[0] / 2 * dpr, (crop[1] + crop[3] / 2) * dpr),
    };
  });
}

/** A scenario in a browser of its own, launched with `flags`. */
function inOwnBrowser(name, flags, body) {
  return scenario(name, async () => {
    const browser = await launch(flags);
    try {
      const page = await browser.newPage();
      watchConsole(page, name);
      await body(page);
    } finally {
      await browser.close();
    }
  });
}

async function expectMessage(page, kind, pattern, what) {
  const text = await waitMessage(page, kind);
  console.log(`  message: ${text.replace(/\s+/g, ' ')}`);
  check(pattern.test(text), `the ${kind} message does not say ${what}`);
}

// ---- camera permission denied (no --use-fake-ui): a clear message, and images still work ----
await inOwnBrowser('camera_denied', [WEBGPU, ...CAMERA], async (page) => {
  await page.goto(a.base);
  await expectMessage(page, 'camera', /denied[^]*image/i, 'what happened and what still works');
  await page.setInputFiles('#file', a.pug);
  await waitTop(page, 'pug');
});

// ---- a corrupt weights file ----
await inOwnBrowser('corrupt_weights', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  const truncated = fs.readFileSync(a.weights).subarray(0, 3_000_000);
  await page.route('**/*.safetensors*', (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body: truncated }));
  await page.goto(a.base);
  await expectMessage(page, 'weights', /BVLC[^]*truncated/, 'what is wrong');
});

// ---- a site without weights: the user picks the file from disk ----
await inOwnBrowser('weights_from_disk', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  await page.route('**/weights/models.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"models": []}' }));
  await page.goto(a.base);
  await page.waitForSelector('#custom:not([hidden])', { timeout: LONG });
  await page.setInputFiles('#weights-file', a.weights);
  await waitTop(page, 'tiger cat');
});

/** The top-5 the native program printed for the first image of a `classify --json` run. */
const nativeTop = (file) => JSON.parse(fs.readFileSync(file, 'utf8'))[0].top;

/** Classifies `image` through the page's file input; returns the page's top-5. */
async function classifyImage(page, image) {
  const before = await frames(page);
  await page.setInputFiles('#file', image);
  // (a camera frame in flight may be shown first: wait for the image's own result)
  await page.waitForFunction((n) => Number(document.body.dataset.frames || 0) > n && document.body.dataset.source === 'image',
    before, { timeout: LONG, polling: 250 });
  return top5(page);
}

function sameTop(got, want, what, tolerance = 1e-4) {
  console.log(`  ${what}: page ${got.map((t) => `${t.index}:${t.p.toFixed(3)}`).join(' ')}; native ${want.map((t) => `${t.index}:${t.probability.toFixed(3)}`).join(' ')}`);
  check(got[0].index === want[0].index, `${what}: top class ${got[0].index}, native ${want[0].index}`);
  check(got[0].label === want[0].label, `${what}: top label "${got[0].label}", native "${want[0].label}"`);
  // the same pixels (a PNG) through the same shaders: probabilities agree closely
  const worst = Math.max(...want.map((w, i) => Math.abs(w.probability - got[i].p)));
  console.log(`  ${what}: max probability difference ${worst.toExponential(2)}`);
  check(worst < tolerance, `${what}: probabilities differ by ${worst}`);
}

// ---- Inception v3 (deterministic weights) from the site's model list, on a PNG ----
await inOwnBrowser('inception_v3', [WEBGPU], async (page) => {
  for (const backend of ['gpu', 'cpu']) {
    await page.goto(`${a.base}?model=inception_v3&autotune=0&backend=${backend}`);
    await page.waitForFunction((b) => document.body.dataset.backend === b &&
      document.querySelector('#model-title')?.textContent.startsWith('Inception v3'), backend, { timeout: LONG, polling: 250 });
    sameTop(await classifyImage(page, a.png), nativeTop(a['v3-expected']), `inception_v3 on the ${backend}`);
  }
});

// ---- the explorer: blocks and branches from the graph, checked against the papers' tables
// (GoogLeNet's table 1 for inception_4a; torchvision's Mixed_6b), live times that add up to
// a whole pass, feature maps drawn; BVLC GoogLeNet on the GPU, Inception v3 on the CPU ----
// How far the profiled layers' sum may lie outside the spread of the whole passes timed.
// On the GPU each layer is timed alone, in a pass of its own, and a software adapter's
// per-pass overhead then adds up: 1075 against 1067 ms on one host, 2181 against 1790-2493
// and 2546 against 1722-2253 on a host twice as slow (this build and the one before it
// alike). On the CPU the layers are timed within a pass.
const EXPLORER_SUM_TOLERANCE = { gpu: 0.35, cpu: 0.10 };
const EXPLORED = [
  {
    query: 'autotune=0&backend=gpu', backend: 'gpu', block: 'inception_4a', title: 'GoogLeNet',
    shapes: ['192x14x14', '208x14x14', '48x14x14', '64x14x14'],
    // 480 x 14 x 14 in: #1x1 192; #3x3 reduce 96, #3x3 208; #5x5 reduce 16, #5x5 48; pool proj 64
    macs: [196 * 480 * 192, 196 * (480 * 96 + 96 * 208 * 9), 196 * (480 * 16 + 16 * 48 * 25), 196 * 480 * 64],
  },
  {
    query: 'model=inception_v3&autotune=0&backend=cpu', backend: 'cpu', block: 'Mixed_6b', title: 'Inception v3',
    shapes: ['192x17x17', '192x17x17', '192x17x17', '192x17x17'],
    // 768 x 17 x 17 in: 1x1 192; 1x1 128, 1x7 128, 7x1 192; 1x1 128, 7x1 128, 1x7 128, 7x1 128, 1x7 192; avg pool, 1x1 192
    macs: [289 * 768 * 192, 289 * (768 * 128 + 128 * 128 * 7 + 128 * 192 * 7),
      289 * (768 * 128 + 3 * 128 * 128 * 7 + 128 * 192 * 7), 289 * 768 * 192],
  },
];
await inOwnBrowser('explorer', [WEBGPU], async (page) => {
  for (const want of EXPLORED) {
    await page.goto(`${a.base}?${want.query}`);
    await page.waitForFunction((t) => document.querySelector('#model-title')?.textContent.startsWith(t) && document.body.dataset.state === 'ready',
      want.title, { timeout: LONG, polling: 250 });
    await classifyImage(page, a.png);
    await page.click('#explore');
    await page.click(`#explorer [data-block="${want.block}"]`);
    await page.waitForFunction((n) => document.querySelectorAll('#explorer .detail canvas.maps[data-drawn="1"]').length === n,
      want.shapes.length, { timeout: LONG, polling: 250 });
    const got = await page.evaluate(() => {
      const root = document.getElementById('explorer');
      const branches = [...root.querySelectorAll('.detail .branch')];
      const spread = (canvas) => {
        const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let [lo, hi] = [255, 0];
        for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
        return hi - lo;
      };
      return {
        blocks: root.querySelectorAll('.part.block').length,
        shapes: branches.map((b) => b.dataset.shape),
        macs: branches.map((b) => Number(b.dataset.multiplyAdds)),
        spreads: branches.map((b) => spread(b.querySelector('canvas'))),
        partsMs: Number(root.dataset.partsMs), passMs: Number(root.dataset.passMs), passesMs: root.dataset.passesMs.split(',').map(Number),
        status: root.querySelector('.explorer-status').textContent,
      };
    });
    console.log(`  ${want.block}: ${got.blocks} blocks; branches ${got.shapes.join(', ')}; MACs ${got.macs.join(', ')}`);
    console.log(`  ${got.status}`);
    check(got.blocks === (want.title === 'GoogLeNet' ? 9 : 11), `${got.blocks} blocks`);
    check(JSON.stringify(got.shapes) === JSON.stringify(want.shapes), `branch shapes ${got.shapes}, expected ${want.shapes}`);
    check(JSON.stringify(got.macs) === JSON.stringify(want.macs), `branch multiply-adds ${got.macs}, expected ${want.macs}`);
    check(got.spreads.every((s) => s > 0), `a branch's feature maps are flat: ${got.spreads}`);
    // within the spread of the whole passes it timed, give or take the tolerance: on a quiet
    // machine as tight as against their median, on a noisy one (passes of 298 to 388 ms
    // seen here) no failure for the noise alone
    const [fastest, slowest] = [Math.min(...got.passesMs), Math.max(...got.passesMs)];
    const tolerance = EXPLORER_SUM_TOLERANCE[want.backend];
    const inside = got.partsMs >= fastest * (1 - tolerance) && got.partsMs <= slowest * (1 + tolerance);
    check(got.passMs > 0 && inside, `the parts' times add up to ${got.partsMs} ms against passes of ${got.passesMs.join(', ')} ms`);
    if (a.artifacts) {
      await page.mouse.move(0, 0); // no hovered block in the picture
      const explorer = page.locator('#explorer');
      await explorer.screenshot({ path: path.join(a.artifacts, `explorer_${want.block}.png`) });
      await explorer.screenshot({ path: path.join(a.artifacts, `explorer_${want.block}.jpg`), type: 'jpeg', quality: 70 });
    }
  }
});

// ---- the user's own model: the tutorial's network saved by torch.save, with class names ----
// (picked while the site's model still downloads: the site's weights are held back until the
// tutorial's network runs, and then must not replace it)
await inOwnBrowser('custom_checkpoint', [WEBGPU], async (page) => {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/*.safetensors*', async (route) => { await held; await route.continue(); });
  await page.goto(`${a.base}?autotune=0`);
  await page.waitForSelector('#model:not([hidden])', { timeout: LONG });
  await page.selectOption('#model', 'custom');
  await page.waitForSelector('#custom:not([hidden])');
  await page.setInputFiles('#labels-file', a['tutorial-labels']);
  await page.setInputFiles('#weights-file', a.tutorial);
  await page.waitForFunction(() => /tutorial.*10 classes/.test(document.querySelector('#model').selectedOptions[0]?.textContent),
    null, { timeout: LONG, polling: 250 });
  const siteWeights = page.waitForEvent('requestfinished', { predicate: (r) => r.url().includes('.safetensors'), timeout: LONG });
  release();
  await siteWeights;
  // an image picked now waits for the site's model to finish loading (classifyFile)
  sameTop(await classifyImage(page, a.png), nativeTop(a['tutorial-expected']), 'tutorial checkpoint');
  check(/tutorial/.test(await page.textContent('#model option:checked')), 'the picker no longer names the tutorial\'s network');
});

// ---- a file that is no network's weights ----
await inOwnBrowser('custom_file_that_fits_nothing', [WEBGPU], async (page) => {
  await page.goto(`${a.base}?autotune=0`);
  await page.waitForSelector('#model:not([hidden])', { timeout: LONG });
  await page.selectOption('#model', 'custom');
  await page.setInputFiles('#weights-file', a.pug);
  await expectMessage(page, 'weights', /does not fit any network[^]*(PyTorch checkpoint|safetensors)/, 'that the file fits no network');
  // the model loaded before stays and still classifies
  await page.setInputFiles('#file', a.pug);
  await waitTop(page, 'pug');
});

// ---- two camera frames in flight (the GPU path; software adapters keep one) ----
await inOwnBrowser('camera_two_frames_in_flight', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${a.base}?inflight=2&autotune=0&backend=gpu`);
  await waitTop(page, 'tiger cat');
  const first = await frames(page);
  await page.waitForFunction((n) => Number(document.body.dataset.frames || 0) >= n + 3, first, { timeout: LONG, polling: 250 });
  const got = await top5(page);
  check(got[0].label === 'tiger cat', `top class ${got[0].label} after more frames`);
  check(errors.length === 0 && !(await page.$('#messages [data-kind="gpu"]')), `errors: ${errors.join('; ')}`);
});

// ---- the GPU device is lost while the camera runs ----
await inOwnBrowser('device_lost', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  // keep a handle on the page's device, to lose it on purpose
  await page.addInitScript(() => {
    const request = GPUAdapter.prototype.requestDevice;
    GPUAdapter.prototype.requestDevice = async function (...args) {
      window.__device = await request.apply(this, args);
      return window.__device;
    };
  });
  const start = Date.now();
  await page.goto(`${a.base}?backend=gpu&autotune=0`);
  await waitTop(page, 'tiger cat');
  // twice: the network is built again on a new device and the camera resumes, no click,
  // within 5 s, or, on a machine slower than that allows (a SwiftShader pass of 2 s), no
  // longer than the page took to start from nothing (download, compile, build, first pass)
  const startMs = Date.now() - start;
  const RECOVERY_MS = Math.max(5000, startMs);
  console.log(`  the page's start to the first tiger cat: ${startMs} ms; recovery allowed ${RECOVERY_MS} ms`);
  for (const loss of [1, 2]) {
    const t0 = await page.evaluate(() => {
      // the first camera frame shown on the next device
      const frames = () => Number(document.body.dataset.frames);
      const device = Number(document.body.dataset.devices);
      window.__resumed = null;
      const watch = new MutationObserver(() => {
        if (Number(document.body.dataset.devices) <= device) return;
        window.__framesOnNew ??= frames();
        if (frames() > window.__framesOnNew) {
          window.__resumed = performance.now();
          watch.disconnect();
        }
      });
      window.__framesOnNew = null;
      watch.observe(document.body, { attributes: true });
      window.__device.destroy();
      return performance.now();
    });
    await page.waitForFunction(() => window.__resumed != null, null, { timeout: LONG, polling: 100 });
    const ms = await page.evaluate((t) => window.__resumed - t, t0);
    const said = await page.textContent('#messages [data-kind="device-lost"]').catch(() => '(gone)');
    console.log(`  loss ${loss}: a camera frame shown on a new GPU device ${ms.toFixed(0)} ms after the loss; "${said.replace(/\s+/g, ' ')}"`);
    check(/replaced in/.test(said), `loss ${loss}: the notice says "${said}"`);
    check(ms < RECOVERY_MS, `loss ${loss}: ${ms.toFixed(0)} ms to recover (allowed ${RECOVERY_MS})`);
    check(await page.evaluate(() => document.body.dataset.backend) === 'gpu', `loss ${loss}: not on the GPU any more`);
    check(!(await page.isVisible('#messages [data-kind="device-lost"] button')), 'a button to click after a recovered loss');
    await waitTop(page, 'tiger cat');
  }
  // a third within the minute: the CPU from then on, and the page says why
  const before = await page.evaluate(() => { const n = Number(document.body.dataset.frames); window.__device.destroy(); return n; });
  await page.waitForFunction((n) => Number(document.body.dataset.frames) >= n + 2 && document.body.dataset.backend === 'cpu', before,
    { timeout: LONG, polling: 100 });
  await expectMessage(page, 'device-lost', /lost 3 times[^]*CPU/, 'that the CPU runs from now on');
  await waitTop(page, 'tiger cat');
  console.log(`  loss 3: ${await page.textContent('#adapter')}`);
});

// ---- images larger than the backend takes: scaled down to fit, then classified ----
await inOwnBrowser('huge_images', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  const pug = fs.readFileSync(a.pug).toString('base64');
  /** The pug photo centred on a gray `width` x `height` picture, as a file to pick. */
  const picture = async (width, height, type) => {
    const b64 = await page.evaluate(async ({ pug, width, height, type }) => {
      const photo = await createImageBitmap(new Blob([Uint8Array.from(atob(pug), (c) => c.charCodeAt(0))]));
      const canvas = new OffscreenCanvas(width, height);
      const g = canvas.getContext('2d');
      g.fillStyle = '#808080';
      g.fillRect(0, 0, width, height);
      const scale = Math.min(width / photo.width, height / photo.height);
      const [w, h] = [photo.width * scale, photo.height * scale];
      g.drawImage(photo, (width - w) / 2, (height - h) / 2, w, h);
      const bytes = new Uint8Array(await (await canvas.convertToBlob({ type, quality: 0.9 })).arrayBuffer());
      let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(text);
    }, { pug, width, height, type });
    return { name: `${width}x${height}.${type.split('/')[1]}`, mimeType: type, buffer: Buffer.from(b64, 'base64') };
  };
  // over every adapter's limit (16384 at most here) in width; over SwiftShader's 8192 in both
  const files = [await picture(20000, 800, 'image/png'), await picture(12000, 8000, 'image/jpeg')];
  for (const backend of ['gpu', 'cpu']) {
    await page.goto(`${a.base}?backend=${backend}&autotune=0`);
    await waitTop(page, 'tiger cat');
    const running = await page.evaluate(() => document.body.dataset.backend);
    check(running === backend, `the page runs ${running}, not ${backend}`);
    for (const file of files) {
      await page.evaluate(() => document.querySelector('#top5').replaceChildren());
      await page.setInputFiles('#file', file); // pauses the camera
      // the pug (camera frames may come first) or the image's message, whichever comes
      await page.waitForFunction(() => document.querySelector('#top5 li .label')?.textContent === 'pug' ||
        document.querySelector('#messages [data-kind="image"]'), null, { timeout: LONG, polling: 250 });
      check(!(await page.$('#messages [data-kind="image"]')), `${file.name}: ${await page.textContent('#messages')}`);
      const [first] = await top5(page);
      console.log(`  ${backend}: ${file.name} (${(file.buffer.length / 1e6).toFixed(1)} MB): ${first.label} ${first.p.toFixed(3)}`);
      check(first.label === 'pug', `${file.name}: ${first.label}`);
    }
  }
});

// ---- the tab hidden and shown, the camera gone and back ----
await inOwnBrowser('camera_and_tab_events', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  await page.goto(`${a.base}?backend=cpu&autotune=0`);
  await waitTop(page, 'tiger cat');
  const framesAfter = async (ms) => { const n = await frames(page); await page.waitForTimeout(ms); return (await frames(page)) - n; };
  // hidden: no frames (Playwright's pages count as visible: the state is replaced and announced)
  await page.evaluate(() => {
    window.__visibility = 'hidden';
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => window.__visibility });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await page.waitForTimeout(500); // a frame in flight may still land
  const whileHidden = await framesAfter(2000);
  check(whileHidden === 0, `${whileHidden} frames classified while the tab was hidden`);
  check(await page.evaluate(() => document.body.dataset.paused) === 'hidden', 'the page does not say it paused');
  await page.evaluate(() => { window.__visibility = 'visible'; document.dispatchEvent(new Event('visibilitychange')); });
  await page.waitForFunction((n) => Number(document.body.dataset.frames) >= n + 2, await frames(page), { timeout: LONG, polling: 100 });
  // the camera's track ends (unplugged, permission withdrawn): a message, then back on devicechange
  await page.evaluate(() => {
    const track = document.querySelector('#video').srcObject.getVideoTracks()[0];
    track.stop(); // stop() itself fires no event: the browser's own ending is announced
    track.dispatchEvent(new Event('ended'));
  });
  await expectMessage(page, 'camera', /went away[^]*starts again/, 'that the camera went away and comes back');
  await page.waitForTimeout(500);
  const whileGone = await framesAfter(1500);
  check(whileGone === 0, `${whileGone} frames classified with the camera gone`);
  await page.evaluate(() => navigator.mediaDevices.dispatchEvent(new Event('devicechange')));
  await page.waitForFunction((n) => Number(document.body.dataset.frames) >= n + 2, await frames(page), { timeout: LONG, polling: 100 });
  check(!(await page.$('#messages [data-kind="camera"]')), 'the camera message stays after the camera came back');
  await waitTop(page, 'tiger cat');
});

// ---- the odd-image corpus (xtask/src/odd_images.rs): the page and the native program agree ----
const ERROR_KINDS = {
  truncated: /truncated JPEG/,
  empty: /is empty \(0 bytes\)/,
  'not-an-image': /not an image this program can decode|could not be decoded as an image/,
};
await inOwnBrowser('odd_images', [WEBGPU], async (page) => {
  const corpus = JSON.parse(fs.readFileSync(path.join(a.odd, 'corpus.json')));
  const native = JSON.parse(fs.readFileSync(a['odd-native']));
  // each file must give its photo's class: what the native program says of the photo itself
  const upright = (photo) => native[photo].top1;
  check(upright('pug.jpg') === 'pug' && upright('tiger_cat.jpg') === 'tiger cat', 'the photos natively: ' +
    `${upright('pug.jpg')}, ${upright('tiger_cat.jpg')}`);
  for (const backend of ['gpu', 'cpu']) {
    await page.goto(`${a.base}?autotune=0&backend=${backend}`);
    await page.waitForFunction((b) => document.body.dataset.backend === b && !document.querySelector('#file').disabled, backend,
      { timeout: LONG, polling: 250 });
    const wrong = [];
    for (const { file, photo, error } of corpus) {
      const before = await frames(page);
      await page.evaluate(() => document.querySelector('#messages [data-kind="image"]')?.remove());
      await page.setInputFiles('#file', path.join(a.odd, file));
      await page.waitForFunction((n) => (Number(document.body.dataset.frames || 0) > n && document.body.dataset.source === 'image') ||
        document.querySelector('#messages [data-kind="image"]'), before, { timeout: LONG, polling: 100 });
      const message = await page.evaluate(() => document.querySelector('#messages [data-kind="image"]')?.innerText ?? null);
      const top1 = message ? null : (await top5(page))[0].label;
      const said = native[file];
      const shown = message ? `error "${message.replace(/\s+/g, ' ')}"` : top1;
      console.log(`  ${backend} ${file}: page ${shown}; native ${said.top1 ?? `error "${said.error}"`}`);
      if (photo) {
        if (top1 !== upright(photo) || said.top1 !== upright(photo)) wrong.push(`${file}: page ${shown}, native ${said.top1 ?? said.error}`);
      } else {
        const kind = ERROR_KINDS[error];
        if (!message || !kind.test(message) || !said.error || !kind.test(said.error)) wrong.push(`${file}: page ${shown}, native ${said.top1 ?? said.error}`);
        // a refused file leaves no earlier result on screen
        if ((await top5(page)).length) wrong.push(`${file}: an earlier top-5 stays under the error`);
      }
    }
    check(wrong.length === 0, `${backend}: ${wrong.join('; ')}`);
  }
});

// ---- a short soak (?soak=N): memory and GPU objects stay flat over camera frames ----
// (the long one: `cargo xtask bench-web --soak 2000`)
// frames per backend: SwiftShader takes 1-2 s a GPU frame here, the CPU backend 0.1 s
const SOAK_FRAMES = { gpu: 40, cpu: 100 };
const SOAK_GROWTH_PERCENT = 5;
await inOwnBrowser('soak', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA, '--js-flags=--expose-gc', '--enable-precise-memory-info'],
  async (page) => {
    for (const backend of ['gpu', 'cpu']) {
      await page.goto(`${a.base}?backend=${backend}&autotune=0&soak=${SOAK_FRAMES[backend]}&warmup=20`);
      await page.waitForFunction(() => window.__soak, null, { timeout: LONG, polling: 500 });
      const r = await page.evaluate(() => window.__soak);
      console.log(`  ${backend}: ${r.frames} frames at ${r.msPerFrame} ms; change in %: ${JSON.stringify(r.changePercent)}; ` +
        `GPU objects ${JSON.stringify(r.start?.gpuObjects)} -> ${JSON.stringify(r.end?.gpuObjects)}`);
      check(!r.error, `${backend}: ${r.error}`);
      check(r.backend === backend && r.frames >= SOAK_FRAMES[backend], `${backend}: ${r.frames} frames on ${r.backend}`);
      check(r.start.jsHeapBytes > 0 && r.start.wasmBytes > 0, `${backend}: no memory figures: ${JSON.stringify(r.start)}`);
      for (const [what, percent] of Object.entries(r.changePercent)) {
        check(percent == null || percent <= SOAK_GROWTH_PERCENT, `${backend}: ${what} grew ${percent}% over ${r.frames} frames`);
      }
      check(r.gpuObjectsEqual, `${backend}: live GPU objects changed`);
      if (backend === 'gpu') check(r.start.gpuObjects.bindGroups > 50, `gpu: ${r.start.gpuObjects.bindGroups} bind groups counted`);
    }
  });

/** The page's benchmark report (?bench=N). */
async function benchReport(page, query) {
  await page.goto(`${a.base}?${query}`);
  await page.waitForFunction(() => window.__bench, null, { timeout: LONG, polling: 500 });
  return page.evaluate(() => window.__bench);
}

// ---- no adapter (Chromium without --enable-unsafe-webgpu): the CPU runs at once ----
await inOwnBrowser('no_webgpu', ['--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  await page.goto(a.base);
  await waitTop(page, 'tiger cat');
  const says = await page.textContent('#adapter');
  console.log(`  page says: ${await page.textContent('#model-title')}; ${says}`);
  check(/^CPU: f32, WebAssembly simd128.*no WebGPU adapter/.test(says), `the page does not say it runs on the CPU and why: ${says}`);
  const native = JSON.parse(fs.readFileSync(a.expected, 'utf8'))[0];
  const p = softmax(native.logits);
  const got = await top5(page);
  const worst = Math.max(...got.map(({ index, p: browserP }) => Math.abs(browserP - p[index])));
  console.log(`  camera: max probability difference from native ${worst.toFixed(4)} (allowed ${PROBABILITY_TOLERANCE})`);
  check(got[0].index === native.top[0].index && worst <= PROBABILITY_TOLERANCE, 'the camera frame differs from native');
  sameTop(await classifyImage(page, a.png), nativeTop(a['png-expected']), 'uploaded PNG on the CPU');
});

// ---- the activation maps cost under 5% of a frame: bench mode times passes with and
// without them in turns (computed, read back and drawn), on each backend ----
const CAM_COST_RATIO = 1.05;
await inOwnBrowser('cam_cost', [WEBGPU], async (page) => {
  // (more pairs on the CPU, whose 60 ms passes vary by a few ms from pass to pass here)
  // A second measurement only where the first is over the limit: on this shared 2-core
  // machine the CPU backend's ratio measured 0.99-1.04 in six runs (mean 1.02). On a host
  // twice as slow, 8 GPU pairs gave 1.032, 1.120 and 1.071 (SwiftShader passes of 1.5 to
  // 2.4 s): 16 halve the variance of the median. A third only where both are over: on
  // 2026-12-07 a slow host gave the GPU 1.086 then 1.052 (passes of 1.8 s), with nothing
  // on the GPU path changed.
  for (const [backend, runs] of [['gpu', 16], ['cpu', 24]]) {
    let r;
    for (let attempt = 1; attempt <= 3; attempt++) {
      r = await benchReport(page, `bench=${runs}&warmup=2&autotune=0&cam=1&backend=${backend}`);
      console.log(`  ${backend}: ${r.timing_ms.median.toFixed(1)} ms without maps, ${r.cam_ms.median.toFixed(1)} ms with (ratio ${r.cam_ratio.toFixed(3)})`);
      check(r.stats.backend === backend, `ran on ${r.stats.backend}`);
      if (r.cam_ratio <= CAM_COST_RATIO) break;
    }
    check(r.cam_ratio <= CAM_COST_RATIO, `${backend}: a frame with maps takes ${r.cam_ratio.toFixed(3)} times one without, three times`);
  }
});

// ---- the automatic choice picks the backend measured faster, and shows both figures ----
await inOwnBrowser('backend_choice', [WEBGPU], async (page) => {
  const report = await benchReport(page, 'bench=2&warmup=1&autotune=0');
  const { name, gpuMs, cpuMs, reason } = report.backend;
  console.log(`  chose ${name}: ${reason}; benchmark median ${report.timing_ms.median.toFixed(1)} ms`);
  check(gpuMs > 0 && cpuMs > 0, 'both backends were not measured');
  check(name === (cpuMs < gpuMs ? 'cpu' : 'gpu'), `chose ${name} with GPU ${gpuMs} ms, CPU ${cpuMs} ms`);
  check(report.stats.backend === name, 'the benchmark ran on another backend than the one chosen');
  // a second visit takes the remembered choice without measuring again
  const again = await benchReport(page, 'bench=1&warmup=0&autotune=0');
  check(again.backend.name === name && /earlier visit/.test(again.backend.reason), `second visit: ${again.backend.reason}`);
});

// ---- ?backend= forces one; the CPU on wasm threads (the test server isolates the page)
// and on one thread gives the same probabilities ----
await inOwnBrowser('forced_backends', [WEBGPU], async (page) => {
  const reports = {};
  for (const query of ['backend=cpu', 'backend=cpu&relaxed=0', 'backend=cpu&threads=1', 'backend=gpu']) {
    const report = await benchReport(page, `bench=1&warmup=0&autotune=0&${query}`);
    const backend = query.slice(8, 11);
    console.log(`  ${query}: ${report.adapter}; ${report.backend.reason}, ${report.timing_ms.median.toFixed(1)} ms, top-1 ${report.top5[0].label}`);
    check(report.stats.backend === backend && report.backend.reason === 'asked for', `?${query} ran on ${report.stats.backend}`);
    reports[query] = report;
  }
  const [relaxed, threaded, single] = ['backend=cpu', 'backend=cpu&relaxed=0', 'backend=cpu&threads=1'].map((q) => reports[q]);
  if (a['threads-built'] === '0') {
    console.log('  threaded checks skipped: the site has no wasm threads build');
    return;
  }
  check(/simd128\+relaxed, [2-9] threads/.test(relaxed.adapter), `not relaxed SIMD on threads: ${relaxed.adapter}`);
  check(/simd128, [2-9] threads/.test(threaded.adapter), `the isolated page's CPU backend is not threaded: ${threaded.adapter}`);
  check(/1 thread\b/.test(single.adapter), 'threads=1 is not one thread');
  // the same build flags but threads: bit-identical; fused multiply-adds: within 1e-5
  const p = (r) => JSON.stringify(r.top5.map((t) => [t.index, t.probability]));
  check(p(threaded) === p(single), `threaded ${p(threaded)} vs one thread ${p(single)}`);
  const fused = Math.max(...relaxed.top5.map((t, i) => Math.abs(t.probability - single.top5[i].probability)));
  console.log(`  relaxed SIMD vs one thread: max probability difference ${fused.toExponential(2)}`);
  check(relaxed.top5.every((t, i) => t.index === single.top5[i].index) && fused < 1e-5, 'relaxed SIMD changes the top-5');
});

// ---- a host whose Content-Security-Policy forbids blob: workers (wasm-bindgen-rayon's
// threads): the CPU backend on one thread, at once, not a page waiting for its threads ----
await inOwnBrowser('threads_blocked_by_csp', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  const blobless = (csp) => csp.replace(/(worker-src[^;]*) blob:/, '$1');
  await page.context().route(`${a.base}**`, async (route) => {
    const response = await route.fetch();
    const headers = response.headers();
    if (headers['content-security-policy']) headers['content-security-policy'] = blobless(headers['content-security-policy']);
    await route.fulfill({ response, headers });
  });
  await page.goto(`${a.base}?backend=cpu`);
  await waitTop(page, 'tiger cat');
  const said = await page.textContent('#adapter');
  const t = await page.evaluate(() => window.__timeline);
  console.log(`  ${said}; engine ready at ${t.engine} ms, CPU backend at ${t.cpu} ms`);
  check(/1 thread\b/.test(said), `not on one thread: ${said}`);
  check(t.cpu - t.engine < 5000, `the CPU backend took ${t.cpu - t.engine} ms to give up on its threads`);
});

// ---- an engine that cannot be compiled (a browser without WebAssembly SIMD, or a broken
// deploy): a clear message, not a blank page ----
await inOwnBrowser('engine_unavailable', [WEBGPU], async (page) => {
  await page.route('**/inception_bg.wasm', (route) => route.fulfill({ status: 200, contentType: 'application/wasm', body: 'not wasm' }));
  await page.goto(a.base);
  await expectMessage(page, 'engine', /cannot run the engine[^]*SIMD/, 'that the engine cannot run');
});

// ---- the GPU forced where there is none: a clear message ----
await inOwnBrowser('gpu_forced_without_webgpu', ['--disable-features=WebGPU', '--disable-gpu'], async (page) => {
  await page.goto(`${a.base}?backend=gpu`);
  await expectMessage(page, 'webgpu', /backend=gpu[^]*(does not offer WebGPU|offers no GPU adapter)/, 'that WebGPU is missing');
});

// ---- offline after one visit, and a new build taking over from the cached one ----
// Each in a browser of its own: after a reload under Playwright's offline emulation, the old
// service worker never handed over to the new build's in 4 of 6 runs when both scenarios
// shared a browser (the new worker stayed waiting, its skipWaiting and the page's asking
// notwithstanding), and in none of 4 runs in a browser of its own.
/** A visited page the service worker controls, with the threaded build in use cached. */
async function visitedForOffline(name, body) {
  await scenario(name, async () => {
    const browser = await launch([WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA]);
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      watchConsole(page, name);
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(a.base);
      await waitTop(page, 'tiger cat');
      await page.waitForFunction(async () => {
        if (!navigator.serviceWorker.controller) return false;
        const names = (await caches.keys()).filter((n) => n.startsWith('inception-shell-'));
        if (names.length !== 1) return false;
        const urls = (await (await caches.open(names[0])).keys()).map((r) => r.url);
        // the build the page runs: a threads build where it is isolated (and sites have one)
        return urls.some((u) => /\/pkg(-threads(-relaxed)?)?\/inception_bg\.wasm$/.test(u));
      }, null, { timeout: LONG, polling: 250 });
      await body(page, context);
      check(errors.length === 0, `page errors: ${errors.join('; ')}`);
    } finally {
      await browser.close();
    }
  });
}

await visitedForOffline('offline_after_first_visit', async (page, context) => {
  await context.setOffline(true);
  try {
    await page.reload();
    await waitTop(page, 'tiger cat');
    console.log(`  offline: ${await page.textContent('#adapter')}`);
    await page.setInputFiles('#file', a.pug);
    await waitTop(page, 'pug');
  } finally {
    await context.setOffline(false);
  }
});

await visitedForOffline('new_build_takes_over', async (page) => {
  // a new build on the server: another BUILD in sw.js, and a mark in the page and its script
  const site = a.site;
  const files = ['sw.js', 'index.html', 'app.js'].map((f) => path.join(site, f));
  const old = files.map((f) => fs.readFileSync(f, 'utf8'));
  const oldBuild = /const BUILD = '([^']+)'/.exec(old[0])[1];
  try {
    fs.writeFileSync(files[0], old[0].replace(`const BUILD = '${oldBuild}'`, "const BUILD = 'next'"));
    fs.writeFileSync(files[1], old[1].replace('<head>', '<head>\n  <meta name="build" content="next">'));
    fs.writeFileSync(files[2], old[2] + "\nwindow.__build = 'next';\n");
    await page.reload();
    // the cached build answers first; the new one installs, takes over and the page reloads onto it
    await page.waitForFunction(() => window.__build === 'next' && document.querySelector('meta[name="build"]')?.content === 'next',
      null, { timeout: 60_000, polling: 250 }).catch(async (e) => {
      // what the page and its service workers were doing, for the failure's message
      const state = await page.evaluate(async () => {
        const r = await navigator.serviceWorker.getRegistration();
        const w = (sw) => sw && `${sw.scriptURL.split('/').pop()} ${sw.state}`;
        return { build: window.__build ?? null, meta: document.querySelector('meta[name="build"]')?.content ?? null,
          controller: w(navigator.serviceWorker.controller), active: w(r?.active), waiting: w(r?.waiting),
          installing: w(r?.installing), caches: await caches.keys() };
      }).catch((err) => String(err));
      throw new Error(`${e.message}; page state ${JSON.stringify(state)}`);
    });
    await waitTop(page, 'tiger cat');
    const names = await page.evaluate(async () => (await caches.keys()).filter((n) => n.startsWith('inception-shell-')));
    console.log(`  caches after the update: ${names.join(', ')}`);
    check(names.length === 1 && names[0] === 'inception-shell-next', `caches: ${names.join(', ')}`);
  } finally {
    files.forEach((f, i) => fs.writeFileSync(f, old[i]));
  }
});

// ---- the GPU's kernels tuned between camera frames, not before the first ----
await inOwnBrowser('tuning_between_frames', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  await page.goto(`${a.base}?backend=gpu`);
  await waitTop(page, 'tiger cat');
  const atFirst = await page.evaluate(() => ({ ...window.__timeline }));
  check(atFirst.tuned == null, 'the kernels were tuned before the first frame');
  const framesAtFirst = await frames(page);
  await page.waitForFunction(() => window.__timeline.tuned != null, null, { timeout: LONG, polling: 250 });
  const during = (await frames(page)) - framesAtFirst;
  const t = await page.evaluate(() => window.__timeline);
  const saved = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('inception.kernels.')));
  console.log(`  first frame at ${t.first_frame} ms, tuned at ${t.tuned} ms, ${during} frames shown meanwhile; saved: ${saved.length}`);
  check(during >= 2, `only ${during} frames were shown while tuning`);
  check(saved.length === 1, 'the kernel choice was not saved');
  await waitTop(page, 'tiger cat'); // still right on the tuned kernels
  // the same tuning at once (the benchmark's), for the note: its tiles and speed beside the stepwise one's
  const stepwise = await benchReport(page, 'bench=3&warmup=1&backend=gpu');
  await page.evaluate(() => localStorage.clear());
  const upFront = await benchReport(page, 'bench=3&warmup=1&backend=gpu');
  console.log(`  stepwise tiles ${JSON.stringify(stepwise.tiles)} ${stepwise.timing_ms.median.toFixed(0)} ms; ` +
    `up-front tiles ${JSON.stringify(upFront.tiles)} ${upFront.timing_ms.median.toFixed(0)} ms`);
});

// ---- the README's example page, in a folder beside the built site, on the API module ----
await inOwnBrowser('readme_example_page', [WEBGPU, '--use-fake-ui-for-media-stream', ...CAMERA], async (page) => {
  const readme = fs.readFileSync(a.readme, 'utf8');
  const example = /```html\n([^]*?)```/.exec(readme)?.[1];
  check(example?.includes("from '../dist/api.js'"), 'the README has no example page importing ../dist/api.js');
  // a folder beside the site (served as inception/ here, where the README's folder is dist/),
  // as the example's author would serve it: without the site's strict CSP, which forbids
  // inline scripts; isolated, for wasm threads
  const html = example.replace("'../dist/api.js'", `'../${path.basename(a.site)}/api.js'`);
  const url = new URL('../example/', a.base).href;
  await page.route(url, (route) => route.fulfill({
    contentType: 'text/html', body: html,
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  }));
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => /^tiger cat /.test(document.querySelector('#top5 li')?.textContent ?? ''), null, { timeout: LONG, polling: 250 });
  const said = await page.textContent('#progress');
  const first = await page.textContent('#top5 li');
  console.log(`  example page: ${said}; ${first}`);
  check(/GoogLeNet .* on the (GPU|CPU)/.test(said), `the example does not say what runs: ${said}`);
  check(errors.length === 0, `page errors: ${errors.join('; ')}`);
});

// ---- the API's activation maps: classify(source, { cams: true }) and heatmap() ----
await inOwnBrowser('api_cams', [WEBGPU], async (page) => {
  const base = new URL('../api-cams/', a.base).href;
  const html = `<!doctype html><script type="module">
    import { load, heatmap } from '../${path.basename(a.site)}/api.js';
    const classifier = await load({ model: 'bvlc' });
    const png = await (await fetch('tiger_cat.224.png')).blob();
    const plain = await classifier.classify(png);
    const seen = await classifier.classify(png, { cams: true });
    const canvas = new OffscreenCanvas(640, 480); // a 4:3 picture: the crop is its centre
    canvas.getContext('2d').drawImage(await createImageBitmap(png), 0, 0, 640, 480);
    const wide = await classifier.classify(canvas, { cams: true });
    const image = heatmap(seen[0].cam, 56);
    window.__result = { backend: classifier.backend, plain, seen, wide: wide[0].crop, heat: [image.width, image.height, image.data[3]] };
  </script>`;
  await page.route(base, (route) => route.fulfill({ contentType: 'text/html', body: html }));
  await page.route(`${base}tiger_cat.224.png`, (route) => route.fulfill({ contentType: 'image/png', body: fs.readFileSync(a.png) }));
  await page.goto(base);
  await page.waitForFunction(() => window.__result, null, { timeout: LONG, polling: 250 });
  const r = await page.evaluate(() => window.__result);
  const cam = r.seen[0].cam;
  console.log(`  ${r.backend}: ${r.seen[0].label} with a ${cam.width}x${cam.height} map over ${r.seen[0].crop}; 640x480: crop ${r.wide}; heatmap ${r.heat}`);
  check(JSON.stringify(r.seen.map((t) => t.index)) === JSON.stringify(r.plain.map((t) => t.index)), 'maps on change the top-5');
  check(r.plain.every((t) => t.cam === undefined), 'a map without asking for one');
  check(r.seen.every((t) => t.cam.width === 7 && t.cam.height === 7 && t.cam.values.length === 49), 'not 7x7 maps');
  check(JSON.stringify(r.seen[0].crop) === JSON.stringify([0, 0, 224, 224]), `the 224x224 picture's crop is ${r.seen[0].crop}`);
  // Resize(256): 341x256 (a resized pixel spans 640/341 and 480/256 source pixels),
  // CenterCrop(224) at (58, 16) there (58.5 ties to even)
  const want = [58 * 640 / 341, 16 * 480 / 256, 224 * 640 / 341, 224 * 480 / 256];
  check(r.wide.every((v, i) => Math.abs(v - want[i]) < 1e-3), `the 640x480 picture's crop is ${r.wide}, not ${want}`);
  check(r.heat[0] === 56 && r.heat[1] === 56 && r.heat[2] > 0, `heatmap ${r.heat}`);
});

// ---- int8 compute on the page's CPU: each wasm int8 kernel (relaxed SIMD's dot product on
// threads, plain simd128 on threads and on one thread) against the native program's int8 on
// the same calibrated file and picture; auto and f32 asked; a file without calibration runs
// float32 and says why, through the API and on the page (?compute=int8) ----
await inOwnBrowser('int8_compute', [WEBGPU], async (page) => {
  const base = new URL('../int8/', a.base).href;
  const html = `<!doctype html><script type="module">
    import { load } from '../${path.basename(a.site)}/api.js';
    const q = new URLSearchParams(location.search);
    const engine = { backend: 'cpu', threads: Number(q.get('threads')) || undefined, relaxed: q.get('relaxed') !== '0' };
    const png = await (await fetch('tiger_cat.224.png')).blob();
    const run = async (weights, compute) => {
      const c = await load({ ...engine, model: 'bvlc', weights, compute });
      const top = await c.classify(png);
      const result = { compute: c.compute, reason: c.computeReason, runs: c.stats.runs, top };
      c.close();
      return result;
    };
    try {
      const int8 = await run('int8.safetensors', 'int8');
      const auto = await run('int8.safetensors', 'auto');
      const f32 = await run('int8.safetensors', 'f32');
      const uncalibrated = await run(undefined, 'int8'); // the site's file
      window.__result = { int8, auto, f32, uncalibrated };
    } catch (e) {
      window.__result = { error: String(e.message ?? e) };
    }
  </script>`;
  const isolated = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
  await page.route((url) => url.href.startsWith(base), (route) => {
    const file = new URL(route.request().url()).pathname.split('/').pop();
    const body = { '': html, 'tiger_cat.224.png': fs.readFileSync(a.png), 'int8.safetensors': fs.readFileSync(a['int8-weights']) }[file];
    route.fulfill({ status: body ? 200 : 404, headers: isolated, contentType: file ? 'application/octet-stream' : 'text/html', body });
  });
  const native = nativeTop(a['int8-expected']);
  const configs = a['threads-built'] === '1' ? ['', 'relaxed=0', 'threads=1'] : ['threads=1'];
  const seen = {};
  for (const query of configs) {
    await page.goto(`${base}?${query}`);
    await page.waitForFunction(() => window.__result, null, { timeout: LONG, polling: 250 });
    const r = await page.evaluate(() => window.__result);
    check(!r.error, `${query || 'threads'}: ${r.error}`);
    console.log(`  ${query || 'threads, relaxed'}: ${r.int8.runs}`);
    check(r.int8.compute === 'int8' && r.int8.reason === 'int8 asked', `int8 asked: ${r.int8.compute} (${r.int8.reason})`);
    check(/^WebAssembly int8, simd128/.test(r.int8.runs), `int8 runs on ${r.int8.runs}`);
    const kernel = { '': /simd128\+relaxed 4x8 \(/, 'relaxed=0': /simd128 4x8 \(/, 'threads=1': /simd128 4x8 .*, 1 thread$/ }[query];
    check(kernel.test(r.int8.runs), `${query}: not the int8 kernel expected: ${r.int8.runs}`);
    sameTop(r.int8.top.map((t) => ({ ...t, p: t.probability })), native, `int8 (${query || "threads, relaxed"}) vs native int8`);
    check(r.auto.compute === 'int8' && JSON.stringify(r.auto.top) === JSON.stringify(r.int8.top), `auto: ${r.auto.compute}, not int8's answer`);
    check(r.f32.compute === 'f32' && r.f32.reason === 'f32 asked', `f32 asked: ${r.f32.compute} (${r.f32.reason})`);
    check(r.f32.top[0].index === r.int8.top[0].index, 'int8 and f32 differ in the top class');
    check(r.uncalibrated.compute === 'f32' && /no int8 calibration/.test(r.uncalibrated.reason),
      `an uncalibrated file with int8 asked: ${r.uncalibrated.compute} (${r.uncalibrated.reason})`);
    seen[query] = r.int8.top;
  }
  // the kernels' integer sums are exact: the same build flags on one thread are bit-identical
  if (seen['relaxed=0']) {
    const p = (top) => JSON.stringify(top.map((t) => [t.index, t.probability]));
    check(p(seen['relaxed=0']) === p(seen['threads=1']), `int8 simd128 threaded ${p(seen['relaxed=0'])} vs one thread ${p(seen['threads=1'])}`);
  }
  // the page: ?compute=int8 on the site's (uncalibrated) file says what runs and why
  await page.goto(`${a.base}?backend=cpu&compute=int8`);
  await classifyImage(page, a.png);
  const says = await page.textContent('#adapter');
  console.log(`  page: ${says}`);
  check(/^CPU: f32, WebAssembly .*f32: the weights file has no int8 calibration/.test(says), `the page does not say why not int8: ${says}`);
});

// wasm-bindgen-rayon's workers once logged "using deprecated parameters for the
// initialization function" on every load (xtask's site build now passes one object)
await scenario('no_deprecation_warnings', async () => {
  check(deprecations.length === 0, `deprecation warnings:\n${deprecations.join('\n')}`);
});

console.log(`${results.length} browser scenarios passed${process.exitCode ? ', some FAILED' : ''}`);
for (const failure of failures) console.log(`FAILED ${failure}`);
