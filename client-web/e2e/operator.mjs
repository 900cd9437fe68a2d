// E2E: the GPU operator view (/operator) against the server on the GPU stand-ins.
// Driven by tests/test_gpu_operator_web.py over stdin/stdout: an avatar job holds the GPU ->
// the page shows the style plan, vLLM asleep, ComfyUI's VRAM and the running job -> "released"
// on stdin -> the mode switch: gen3d is refused (507) and nothing changes, style is applied,
// auto hands the GPU back to the conversation.
//   node e2e/operator.mjs BASE_URL
import { createInterface } from 'node:readline';
import { launch, log, main, report, waitFor } from './lib.mjs';

const [base] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function expectLine(want) {
  const { value, done } = await lines.next();
  if (done || value.trim() !== want) throw new Error(`expected "${want}" on stdin, got ${JSON.stringify(value)}`);
}

const plan = (page, want) => waitFor(page, (p) => document.querySelector('[data-testid=plan]')?.dataset.plan === p,
                                     want, 30000, `the plan "${want}"`);

/** What the page shows: plan, mode, VRAM bar segments (MB and drawn width), services, jobs. */
async function snapshot(page) {
  return page.evaluate(() => {
    const q = (sel) => document.querySelector(sel);
    const bar = q('[data-testid=vram-bar]').getBoundingClientRect().width;
    const segments = {};
    for (const el of document.querySelectorAll('[data-testid^=vram-seg-]')) {
      segments[el.dataset.testid.slice(9)] = { mb: Number(el.dataset.mb), share: el.getBoundingClientRect().width / bar };
    }
    const services = {};
    for (const row of document.querySelectorAll('[data-testid^=svc-]')) services[row.dataset.testid.slice(4)] = row.dataset.state;
    const leases = {};
    for (const row of document.querySelectorAll('[data-testid^=lease-]')) leases[row.dataset.testid.slice(6)] = { state: row.dataset.state, text: row.innerText };
    return {
      plan: q('[data-testid=plan]')?.dataset.plan, planText: q('[data-testid=plan]')?.innerText,
      mode: q('[data-testid=mode]')?.innerText, vramText: q('[data-testid=vram-text]')?.innerText,
      segments, services, leases, result: q('[data-testid=mode-result]')?.innerText,
      resultOk: q('[data-testid=mode-result]')?.dataset.ok,
    };
  });
}

await main(async () => {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  let sockets = 0;
  page.on('websocket', () => { sockets += 1; });
  await page.goto(`${base}/operator`);
  await plan(page, 'style');
  await waitFor(page, () => document.querySelector('[data-testid=lease-job-web]')?.dataset.state === 'granted',
                null, 20000, 'the running job');
  report({ phase: 'job', view: await snapshot(page) });

  await expectLine('released');
  await plan(page, 'conversation');
  await page.click('[data-testid=mode-gen3d]');
  await waitFor(page, () => document.querySelector('[data-testid=mode-result]')?.dataset.ok === 'false', null, 20000, 'the refusal');
  const refused = await snapshot(page);
  log('refused:', refused.result);
  await page.click('[data-testid=mode-style]');
  await waitFor(page, () => document.querySelector('[data-testid=mode-result]')?.dataset.ok === 'true', null, 30000, 'the switch');
  await plan(page, 'style');
  await waitFor(page, () => document.querySelector('[data-testid=svc-vllm]')?.dataset.state === 'asleep', null, 10000, 'vLLM asleep');
  const style = await snapshot(page);
  await page.click('[data-testid=mode-auto]');
  await plan(page, 'conversation');
  await waitFor(page, () => document.querySelector('[data-testid=svc-vllm]')?.dataset.state === 'resident', null, 10000, 'vLLM awake');
  const back = await snapshot(page);
  report({ ok: true, phase: 'done', refused, style, back, consoleErrors, sockets });
  await browser.close();
});
