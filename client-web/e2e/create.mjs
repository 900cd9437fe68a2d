// E2E: avatar creation in the browser. Drop a real photo (NASA's astronaut portrait, public
// domain), pick a style, watch every step, preview the result in the stage (clips, a viseme, a
// blink), give it to a new character, then talk to it: the answer's audio plays and the new
// avatar's mouth moves. Then the job's VRM loads through @pixiv/three-vrm.
//   node e2e/create.mjs BASE_URL PHOTO.png SCREENSHOT.png
import { hook, launch, log, main, openApp, report, waitFor } from './lib.mjs';

const [base, photo, shotPath] = process.argv.slice(2);

await main(async () => {
  const browser = await launch();
  const { page, consoleErrors } = await openApp(browser, `${base}/?test&fps=10`);
  const warnings = [];
  page.on('console', (msg) => { if (msg.type() === 'warning') warnings.push(msg.text()); });
  await waitFor(page, () => window.__avatarTest.state().link.state === 'open', null, 30000, 'the WebSocket');

  await page.click('[data-testid=create-open]');
  await page.setInputFiles('[data-testid=create-file]', photo);
  await page.selectOption('[data-testid=create-style]', 'cartoon');
  await page.check('[data-testid=create-vrm]');
  await page.fill('[data-testid=create-name]', 'Eileen');
  await page.click('[data-testid=create-generate]');
  // ended, and if completed, the status fetch that follows job.done has brought the thumbnail and
  // VRM URLs (the event names only the GLB; under load that fetch lands a moment later)
  await waitFor(page, () => {
    const job = window.__avatarTest.create().job;
    return ['failed', 'cancelled'].includes(job?.status) || (job?.status === 'completed' && !!job.thumbnailUrl);
  }, null, 180000, 'the avatar job');
  const created = await hook(page, () => window.__avatarTest.create());
  log('job', JSON.stringify(created.job));
  if (created.job.status !== 'completed') throw new Error(`job ${created.job.status}: ${JSON.stringify(created.job.error)}`);
  const stepShown = await page.locator('[data-testid=create-step]').innerText();

  // the result in the same viewer, its idle clip playing
  await waitFor(page, () => window.__avatarTest.state().avatar.url.startsWith('/api/models/')
    && window.__avatarTest.state().avatar.status === 'ready', null, 60000, 'the new avatar in the stage');
  const rig = await hook(page, () => window.__avatarTest.rig());
  const tTalk = await hook(page, () => performance.now());
  await page.click('[data-testid=create-clip-talk]');
  await waitFor(page, (since) => window.__avatarTest.maxMouthOpen(since) > 0.3, tTalk, 30000,
                'the talk clip moving the mouth');
  const talkMouth = await hook(page, (since) => window.__avatarTest.maxMouthOpen(since), tTalk);
  await page.selectOption('[data-testid=create-viseme]', 'aa');
  await waitFor(page, () => (window.__avatarTest.morphs().viseme_aa ?? 0) > 0.8, null, 20000, 'viseme aa held');
  const aa = await hook(page, () => window.__avatarTest.morphs());
  await page.click('[data-testid=create-blink]');
  await page.waitForTimeout(400);
  await page.evaluate(() => window.__avatarTest.freeze(true));
  await page.waitForTimeout(250);
  await page.screenshot({ path: shotPath, timeout: 20000 });
  await page.evaluate(() => window.__avatarTest.freeze(false));
  const preview = await hook(page, () => window.__avatarTest.create().preview);

  // give it to a new character and talk to it
  await page.click('[data-testid=create-use]');
  await waitFor(page, () => {
    const s = window.__avatarTest.state();
    const id = window.__avatarTest.create().characterId;
    return id && s.session?.character_id === id && s.avatar.status === 'ready';
  }, null, 30000, 'the new character, wearing the avatar');
  const character = await hook(page, () => ({ session: window.__avatarTest.state().session,
                                               avatar: window.__avatarTest.state().avatar }));
  await page.fill('[data-testid=chat-input]', 'Hello! Who are you?');
  const t0 = await hook(page, () => performance.now());
  await page.click('[data-testid=send]');
  await waitFor(page, () => {
    const m = window.__avatarTest.state().messages.filter((x) => x.role === 'assistant').at(-1);
    return m && m.status !== 'streaming' && !window.__avatarTest.audio().playing;
  }, null, 120000, 'the answer, spoken');
  const answerMouth = await hook(page, (since) => window.__avatarTest.maxMouthOpen(since), t0);
  const assistant = await hook(page, () => window.__avatarTest.state().messages.filter((x) => x.role === 'assistant').at(-1));

  // the VRM of the same job, through @pixiv/three-vrm
  if (!created.job.vrmUrl) throw new Error(`no VRM URL in ${JSON.stringify(created.job)}`);
  const vrmPage = await openApp(browser, `${base}/?test&fps=10&avatar=${encodeURIComponent(created.job.vrmUrl)}`);
  const vrmWarnings = [];
  vrmPage.page.on('console', (msg) => { if (msg.type() === 'warning') vrmWarnings.push(msg.text()); });
  await waitFor(vrmPage.page, () => window.__avatarTest.state().avatar.status !== 'loading', null, 60000, 'the VRM');
  const vrm = await hook(vrmPage.page, () => ({ avatar: window.__avatarTest.state().avatar, rig: window.__avatarTest.rig() }));
  await browser.close();
  report({ ok: true, created, stepShown, rig, talkMouth, aa, preview, character, assistant, answerMouth,
           vrm, consoleErrors, vrmErrors: vrmPage.consoleErrors, warnings, vrmWarnings });
});
