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
  page.on('console', (m) => { if (process.env.DEBUG || m.type() === 'error' || m.type() === 'warning') console.error(`  [${name} ${m.type()}] ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`  [${name} pageerror] ${e}`));
}
