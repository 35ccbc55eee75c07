// Shared by the browser tests and the benchmark: launching Debian's Chromium headless with
// WebGPU on SwiftShader (`--enable-unsafe-webgpu`; without it no adapter is offered).
import { chromium } from 'playwright-core';

export const BASE_FLAGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic',
];
export const WEBGPU = '--enable-unsafe-webgpu';

export function launch(flags) {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: [...BASE_FLAGS, ...flags] });
}

export function parseArgs(argv, defaults) {
  const a = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in a)) throw new Error(`unknown option ${argv[i]}`);
    a[k] = typeof a[k] === 'boolean' ? true : argv[++i];
  }
  return a;
}

/** Forwards the page's console errors, so failures explain themselves. */
export function watchConsole(page, name) {
  const watch = (where, m) => {
    if (process.env.DEBUG || m.type() === 'error' || m.type() === 'warning') console.error(`  [${where} ${m.type()}] ${m.text()}`);
    if (/deprecated/i.test(m.text())) deprecations.push(`${where}: ${m.text()}`);
  };
  page.on('console', (m) => watch(name, m));
  // the CPU backend's worker and the threads it starts log on their own consoles
  page.on('worker', (worker) => worker.on('console', (m) => watch(`${name} worker`, m)));
  page.on('pageerror', (e) => console.error(`  [${name} pageerror] ${e}`));
}

/** Every console message of any watched page or worker that speaks of a deprecation. */
export const deprecations = [];
