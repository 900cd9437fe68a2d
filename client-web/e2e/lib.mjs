// Shared helpers for the end-to-end scripts: headless Chromium (Debian's, via playwright-core),
// the page's test hook, and JSON results on stdout for the pytest driver (tests/test_web_e2e.py).
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const BASE_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--autoplay-policy=no-user-gesture-required',
  // WebGL on the CPU (no GPU in CI): Mesa's llvmpipe through ANGLE's EGL backend renders this
  // scene ~2.5x faster than SwiftShader; Chromium falls back to SwiftShader if EGL is missing.
  '--use-angle=gl-egl',
  '--ignore-gpu-blocklist',
  '--enable-unsafe-swiftshader',
  '--disable-dev-shm-usage',
];

export async function launch(extraArgs = []) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...BASE_ARGS, ...extraArgs] });
}

/** A console message's text; Chromium's "Failed to load resource" names no resource, so its URL
 *  (the message's location) is added: a failure then says what was missing. */
export function consoleText(msg) {
  const where = msg.location()?.url;
  return /^Failed to load resource/.test(msg.text()) && where ? `${msg.text()} <- ${where}` : msg.text();
}

/** A page on `url` with console errors collected; resolves when the test hook is there. */
export async function openApp(browser, url, { width = 1180, height = 720, permissions = [] } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  if (permissions.length) await context.grantPermissions(permissions, { origin: new URL(url).origin });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(consoleText(msg)); });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__avatarTest !== undefined, null, { timeout: 20000 });
  return { page, context, consoleErrors };
}

export const hook = (page, expr) => page.evaluate(expr);

export async function waitFor(page, fn, arg, timeout = 30000, what = 'condition') {
  log('waiting for', what);
  let timer;
  const guard = new Promise((_, reject) => {
    // a page too busy to poll must not hang the test either
    timer = setTimeout(() => reject(new Error('guard')), timeout + 5000);
  });
  try {
    await Promise.race([page.waitForFunction(fn, arg, { timeout, polling: 100 }), guard]);
  } catch (err) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
  } finally {
    clearTimeout(timer);
  }
}

const started = Date.now();
/** Progress on stderr (the pytest side shows it when a test fails). */
export function log(...args) {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${args.join(' ')}\n`);
}

/** Print one JSON line (the pytest side parses the last line of stdout). */
export function report(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

export async function main(fn) {
  try {
    await fn();
  } catch (err) {
    report({ ok: false, error: String(err && err.stack || err) });
    process.exitCode = 1;
  }
}
