// The page's benchmark mode (?bench=N) in headless Chromium: prints its JSON report.
//   node bench.mjs --url http://127.0.0.1:PORT/?bench=10 [--out FILE]
// With --y4m FILE (a fake camera playing that video) and --soak, the page's soak mode
// (?soak=N): the report is window.__soak, with exact JS heap figures (--expose-gc,
// --enable-precise-memory-info).
import fs from 'node:fs';
import { launch, parseArgs, watchConsole, WEBGPU } from './common.mjs';

const a = parseArgs(process.argv.slice(2), { url: '', out: '', timeout: '900', y4m: '', soak: false });
const camera = a.y4m
  ? ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${a.y4m}`]
  : [];
const memory = a.soak ? ['--js-flags=--expose-gc', '--enable-precise-memory-info'] : [];
const browser = await launch([WEBGPU, ...camera, ...memory]);
try {
  const page = await browser.newPage();
  watchConsole(page, 'bench');
  await page.goto(a.url);
  const key = a.soak ? '__soak' : '__bench';
  await page.waitForFunction((k) => window[k] || document.querySelector('#messages .message:not([data-kind="device-lost"])'), key,
    { timeout: Number(a.timeout) * 1000, polling: 500 });
  const report = await page.evaluate((k) => window[k] ?? { error: document.querySelector('#messages').innerText }, key);
  report.chromium = browser.version();
  const json = JSON.stringify(report, null, 1);
  if (a.out) fs.writeFileSync(a.out, json + '\n');
  else console.log(json);
  if (report.error) process.exitCode = 1;
} finally {
  await browser.close();
}
