// E2E (c): the server goes away mid-session -> the page says it is reconnecting (backoff) ->
// the server comes back -> the page reconnects by itself and a conversation works again.
// Driven over stdin/stdout by tests/test_web_e2e.py: prints {"phase": ...} lines and waits for
// the lines "stopped" and "restarted".
//   node e2e/reconnect.mjs BASE_URL
import { createInterface } from 'node:readline';
import { hook, launch, main, openApp, report, waitFor } from './lib.mjs';

const [base] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function expectLine(want) {
  const { value, done } = await lines.next();
  if (done || value.trim() !== want) throw new Error(`expected "${want}" on stdin, got ${JSON.stringify(value)}`);
}
const statusText = (page) => page.locator('[data-testid=status]').innerText();

await main(async () => {
  const browser = await launch();
  const { page, consoleErrors } = await openApp(browser, `${base}/?test&fps=5`);
  await waitFor(page, () => window.__avatarTest.state().link.state === 'open', null, 20000, 'the WebSocket');
  const before = await hook(page, () => window.__avatarTest.state().session?.character_id);
  const sessionBefore = await hook(page, () => window.__avatarTest.state().link);
  report({ phase: 'ready', session: before, link: sessionBefore });

  await expectLine('stopped');
  await waitFor(page, () => window.__avatarTest.state().link.state === 'reconnecting', null, 20000, 'reconnecting');
  const reconnectingText = await statusText(page);
  // typed mode while offline: the message is refused with a visible error, the page stays usable
  await page.fill('[data-testid=chat-input]', 'Are you there?');
  await page.click('[data-testid=send]');
  await waitFor(page, () => window.__avatarTest.state().errors.some((e) => e.code === 'OFFLINE'), null, 5000, 'the offline error');
  const errorText = await page.locator('[data-testid=errors]').innerText();
  await page.waitForTimeout(2500); // let a few attempts fail
  const attemptsWhileDown = await hook(page, () => window.__avatarTest.state().link.attempt);
  report({ phase: 'reconnecting', reconnectingText, errorText, attemptsWhileDown });

  await expectLine('restarted');
  const t0 = Date.now();
  await waitFor(page, () => window.__avatarTest.state().link.state === 'open', null, 40000, 'the reconnection');
  const reconnectMs = Date.now() - t0;
  const openText = await statusText(page);
  await page.fill('[data-testid=chat-input]', 'Hello again! What is your name?');
  await page.click('[data-testid=send]');
  await waitFor(page, () => window.__avatarTest.state().messages.some((m) => m.role === 'assistant' && m.status === 'completed' && m.text),
                null, 90000, 'an answer after reconnecting');
  const state = await hook(page, () => window.__avatarTest.state());
  const notes = state.messages.filter((m) => m.role === 'note').map((m) => m.text);
  const counters = await hook(page, () => window.__avatarTest.counters());
  await browser.close();
  report({
    phase: 'done', ok: true, reconnectMs, openText, notes, counters,
    answer: state.messages.find((m) => m.role === 'assistant' && m.status === 'completed'),
    link: state.link, consoleErrors,
  });
});
