// E2E (a): type a message -> the answer streams into the page, its audio plays through the
// AudioContext, the avatar's mouth morphs move during playback and rest afterwards.
//   node e2e/typed.mjs BASE_URL SCREENSHOT.png
// Prints one JSON line of observations; tests/test_web_e2e.py asserts on them.
import { hook, launch, log, main, openApp, report, waitFor } from './lib.mjs';

const [base, shotPath] = process.argv.slice(2);
const QUESTION = 'Hello! Please tell me about your town in two sentences.';

await main(async () => {
  const browser = await launch();
  const { page, consoleErrors } = await openApp(browser, `${base}/?test&fps=10`);
  await waitFor(page, () => window.__avatarTest.state().link.state === 'open', null, 20000, 'the WebSocket');
  await waitFor(page, () => window.__avatarTest.state().avatar.status === 'ready', null, 20000, 'the avatar');
  const restBefore = await hook(page, () => window.__avatarTest.mouthOpen());

  await page.fill('[data-testid=chat-input]', QUESTION);
  const t0 = Date.now();
  await page.click('[data-testid=send]');

  // the answer streams in: the assistant bubble has text while still streaming
  await waitFor(page, () => {
    const m = window.__avatarTest.state().messages.find((x) => x.role === 'assistant');
    return m && m.text.length > 0;
  }, null, 60000, 'answer text');
  const firstTextMs = Date.now() - t0;

  // mid-answer: the mouth is open while audio plays -> hold that frame still -> screenshot
  let shotMouth = 0;
  let midAudio = null;
  let activityMid = null;
  let shotJaw = 0;
  for (let tries = 0; tries < 40 && shotJaw < 0.45; tries++) {
    await waitFor(page, () => window.__avatarTest.audio().playing && window.__avatarTest.jawOpen() > 0.45,
                  null, 60000, 'a wide open mouth during playback');
    await page.evaluate(() => window.__avatarTest.freeze(true));
    await page.waitForTimeout(250); // a frame already under way finishes; the canvas then holds still
    shotMouth = await hook(page, () => window.__avatarTest.mouthOpen()); // of the frame on screen
    shotJaw = await hook(page, () => window.__avatarTest.jawOpen());
    log('frozen frame: mouth', shotMouth.toFixed(2), 'jaw', shotJaw.toFixed(2));
    if (shotJaw >= 0.45) {
      midAudio = await hook(page, () => window.__avatarTest.audio());
      activityMid = await hook(page, () => window.__avatarTest.state().activity);
      await page.screenshot({ path: shotPath, timeout: 20000 });
      log('screenshot', shotPath);
    }
    await page.evaluate(() => window.__avatarTest.freeze(false));
  }

  // the whole answer: response.done, then the audio plays out
  await waitFor(page, () => {
    const m = window.__avatarTest.state().messages.find((x) => x.role === 'assistant');
    return m && m.status !== 'streaming';
  }, null, 90000, 'response.done');
  await waitFor(page, () => !window.__avatarTest.audio().playing, null, 90000, 'the end of playback');
  await page.waitForTimeout(600); // smoothing releases the mouth within ~0.3 s
  const mouthAfter = await hook(page, () => window.__avatarTest.mouthOpen());
  const morphsAfter = await hook(page, () => window.__avatarTest.morphs());
  const state = await hook(page, () => window.__avatarTest.state());
  const assistant = state.messages.find((x) => x.role === 'assistant');
  const bubbleText = await page.locator('[data-testid=msg-assistant]').first().innerText();
  const streamed = await hook(page, () => window.__avatarTest.streamed());
  const counters = await hook(page, () => window.__avatarTest.counters());
  const audio = await hook(page, () => window.__avatarTest.audio());
  const maxMouth = await hook(page, (since) => window.__avatarTest.maxMouthOpen(since), 0);
  const frames = await hook(page, () => window.__avatarTest.frames());
  const rig = await hook(page, () => window.__avatarTest.rig());

  // the stop button: a second answer is cut while it plays; its audio stops at once
  await page.fill('[data-testid=chat-input]', 'Tell me a long story about the sea and the lighthouse.');
  await page.click('[data-testid=send]');
  await waitFor(page, () => window.__avatarTest.audio().playing && window.__avatarTest.audio().responseId > 1,
                null, 90000, 'the second answer to play');
  await page.waitForTimeout(400);
  const beforeStop = await hook(page, () => window.__avatarTest.audio());
  await page.click('[data-testid=stop]');
  const stoppedAt = await hook(page, () => window.__avatarTest.now());
  await page.waitForTimeout(700);
  const afterStop = await hook(page, () => window.__avatarTest.audio());
  const mouthAfterStop = await hook(page, () => window.__avatarTest.mouthOpen());
  await waitFor(page, () => window.__avatarTest.state().messages.filter((m) => m.role === 'assistant')[1]?.status !== 'streaming',
                null, 30000, 'the stopped answer to end');
  const stopped = await hook(page, () => window.__avatarTest.state().messages.filter((m) => m.role === 'assistant')[1]);
  const countersAfterStop = await hook(page, () => window.__avatarTest.counters());
  await browser.close();
  report({
    stop: { beforeStop, afterStop, mouthAfterStop, stopped, stoppedAt, counters: countersAfterStop },
    ok: true, question: QUESTION, firstTextMs, restBefore, shotMouth, shotJaw, maxMouth, mouthAfter, morphsAfter,
    midAudio, activityMid, audio, assistant, bubbleText, streamed, counters, frames, rig,
    latency: state.latency, outputRate: state.session ? undefined : null, errors: state.errors,
    activityAfter: state.activity, consoleErrors,
  });
});
