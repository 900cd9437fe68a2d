// E2E: a VRM avatar loads through the file picker and its mouth follows the visemes through the
// VRM expressions aa ih ou ee oh.
//   node e2e/vrm.mjs BASE_URL AVATAR.vrm
import { hook, launch, main, openApp, report, waitFor } from './lib.mjs';

const [base, vrm] = process.argv.slice(2);
const VISEMES = ['sil', 'PP', 'FF', 'TH', 'DD', 'kk', 'CH', 'SS', 'nn', 'RR', 'aa', 'E', 'ih', 'oh', 'ou'];
const only = (v) => VISEMES.map((x) => (x === v ? 1 : 0));

await main(async () => {
  const browser = await launch();
  const { page, consoleErrors } = await openApp(browser, `${base}/?test&fps=10`);
  await waitFor(page, () => window.__avatarTest.rig()?.kind === 'glb', null, 20000, 'the default avatar');
  await page.setInputFiles('[data-testid=avatar-file]', vrm);
  await waitFor(page, () => window.__avatarTest.state().avatar.label === 'default.vrm'
    && window.__avatarTest.state().avatar.status !== 'loading', null, 30000, 'the VRM avatar');
  const avatar = await hook(page, () => window.__avatarTest.state().avatar);
  if (avatar.status !== 'ready') throw new Error(`the VRM did not load: ${avatar.message}`);
  const rig = await hook(page, () => window.__avatarTest.rig());
  const shapes = {};
  for (const v of ['aa', 'oh', 'E']) {
    await page.evaluate((w) => window.__avatarTest.forceMouth(w), only(v));
    await page.waitForTimeout(1500);
    shapes[v] = await hook(page, () => window.__avatarTest.morphs());
  }
  await page.evaluate(() => window.__avatarTest.forceMouth(null));
  await page.waitForTimeout(1500);
  const rest = await hook(page, () => window.__avatarTest.morphs());
  const status = await page.locator('[data-testid=avatar-status]').innerText();
  await browser.close();
  report({ ok: true, rig, shapes, rest, status, consoleErrors });
});
