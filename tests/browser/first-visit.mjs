// One visit of the page in headless Chromium with the fake camera, in a browser profile
// kept in --profile (an empty folder: a first visit; the folder of an earlier run: a
// return visit). Prints one JSON object: milliseconds from navigation to the first shown
// prediction, and the page's timeline (window.__timeline: download, compile, upload,
// first frame, tuning done). Run by `cargo xtask bench-web --first-visit`, which counts
// the bytes its server sent.
//
//   node first-visit.mjs --url URL --profile DIR --y4m FILE [--mbit N --latency MS] [--offline]
import { chromium } from 'playwright-core';
import { BASE_FLAGS, WEBGPU, parseArgs, watchConsole } from './common.mjs';

const a = parseArgs(process.argv.slice(2), { url: '', profile: '', y4m: '', mbit: '0', latency: '0', offline: false, timeout: '300' });
const context = await chromium.launchPersistentContext(a.profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [...BASE_FLAGS, WEBGPU, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${a.y4m}`],
});
let report;
try {
  const page = context.pages()[0] ?? await context.newPage();
  watchConsole(page, 'visit');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  if (a.offline || Number(a.mbit) > 0) {
    await cdp.send('Network.emulateNetworkConditions', {
      offline: a.offline,
      latency: Number(a.latency),
      downloadThroughput: Number(a.mbit) > 0 ? Number(a.mbit) * 1e6 / 8 : -1,
      uploadThroughput: Number(a.mbit) > 0 ? Number(a.mbit) * 1e6 / 8 : -1,
    });
  }
  const t0 = Date.now();
  await page.goto(a.url, { timeout: Number(a.timeout) * 1000 });
  await page.waitForFunction(() => Number(document.body.dataset.frames || 0) > 0 || document.querySelector('#messages .message'),
    null, { timeout: Number(a.timeout) * 1000, polling: 50 });
  const firstMs = Date.now() - t0;
  const shown = await page.evaluate(() => ({
    top1: document.querySelector('#top5 li .label')?.textContent ?? null,
    messages: [...document.querySelectorAll('#messages .message')].map((m) => m.innerText),
    backend: document.body.dataset.backend ?? null,
    precision: document.body.dataset.precision ?? null,
    controlled: !!navigator.serviceWorker?.controller,
  }));
  // tuning and the backend measurement go on after the first frame: wait for them (or 60 s)
  await page.waitForFunction(() => window.__timeline?.settled != null, null, { timeout: 60_000, polling: 200 }).catch(() => {});
  const timeline = await page.evaluate(() => window.__timeline ?? null);
  report = { first_prediction_ms: firstMs, ...shown, timeline };
} finally {
  await context.close();
}
console.log(JSON.stringify(report));
if (!report.top1) process.exitCode = 1;
