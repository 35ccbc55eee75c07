// The page's benchmark mode (?bench=N) in headless Chromium: prints its JSON report.
//   node bench.mjs --url http://127.0.0.1:PORT/?bench=10 [--out FILE]
import fs from 'node:fs';
import { launch, parseArgs, watchConsole, WEBGPU } from './common.mjs';

const a = parseArgs(process.argv.slice(2), { url: '', out: '', timeout: '900' });
const browser = await launch([WEBGPU]);
try {
  const page = await browser.newPage();
  watchConsole(page, 'bench');
  await page.goto(a.url);
  await page.waitForFunction(() => window.__bench || document.querySelector('#messages .message'), null,
    { timeout: Number(a.timeout) * 1000, polling: 500 });
  const report = await page.evaluate(() => window.__bench ?? { error: document.querySelector('#messages').innerText });
  report.chromium = browser.version();
  const json = JSON.stringify(report, null, 1);
  if (a.out) fs.writeFileSync(a.out, json + '\n');
  else console.log(json);
  if (report.error) process.exitCode = 1;
} finally {
  await browser.close();
}
