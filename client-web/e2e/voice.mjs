// E2E (b): a fake microphone plays a WAV of real speech (Piper) -> 20 ms PCM16 frames over the
// WebSocket -> the server's VAD and Whisper -> the transcript appears -> the avatar answers aloud.
//   node e2e/voice.mjs BASE_URL SPEECH.wav
import { hook, launch, main, openApp, report, waitFor } from './lib.mjs';

const [base, wav] = process.argv.slice(2);

await main(async () => {
  const browser = await launch([
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}%noloop`,
  ]);
  const { page, consoleErrors } = await openApp(browser, `${base}/?test&fps=10`, { permissions: ['microphone'] });
  await waitFor(page, () => window.__avatarTest.state().link.state === 'open', null, 20000, 'the WebSocket');
  await page.click('[data-testid=mic]');
  await waitFor(page, () => window.__avatarTest.state().mic.state === 'on', null, 15000, 'the microphone');
  const t0 = Date.now();
  await waitFor(page, () => window.__avatarTest.state().messages.some((m) => m.role === 'user' && m.source === 'voice'),
                null, 60000, 'a transcript');
  const transcriptMs = Date.now() - t0;
  const userBubble = await page.locator('[data-testid=msg-user][data-source=voice]').first().innerText();
  await waitFor(page, () => window.__avatarTest.state().messages.some((m) => m.role === 'assistant' && m.status === 'completed'),
                null, 90000, 'the answer');
  await waitFor(page, () => window.__avatarTest.audio().samplesPlayed > 0 && !window.__avatarTest.audio().playing,
                null, 90000, 'the answer to play out');
  const state = await hook(page, () => window.__avatarTest.state());
  const result = {
    ok: true,
    transcriptMs,
    transcript: state.messages.find((m) => m.role === 'user' && m.source === 'voice').text,
    userBubble,
    answer: state.messages.find((m) => m.role === 'assistant'),
    audio: await hook(page, () => window.__avatarTest.audio()),
    counters: await hook(page, () => window.__avatarTest.counters()),
    micLevelMax: await hook(page, () => window.__avatarTest.micLevelMax()),
    activities: (await hook(page, () => window.__avatarTest.activityLog())).map((a) => a.activity),
    maxMouth: await hook(page, () => window.__avatarTest.maxMouthOpen(0)),
    latency: state.latency,
    mic: state.mic,
    errors: state.errors,
    consoleErrors,
  };
  await browser.close();
  report(result);
});
