// E2E: a Korean conversation renders Hangul (the bundled Noto Sans KR subset; headless Chromium
// has no CJK font, so without it Korean shows as identical empty boxes), and the page says when
// the server's model cannot answer in Korean.
//   node e2e/korean.mjs BASE_URL
import { hook, launch, main, openApp, report, waitFor } from './lib.mjs';

const [base] = process.argv.slice(2);

await main(async () => {
  const browser = await launch();
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
});

async function run(browser) {
  const { page, consoleErrors } = await openApp(browser, `${base}/?test&fps=5`);
  await waitFor(page, () => window.__avatarTest.state().session !== null, null, 20000, 'a session');
  await page.locator('[data-testid=character-select]').selectOption('haneul');
  await waitFor(page, () => window.__avatarTest.state().session?.language === 'ko', null, 20000,
    'the Korean character');
  const text = '안녕하세요! 오늘 날씨가 좋네요.';
  await page.locator('[data-testid=chat-input]').fill(text);
  await page.locator('[data-testid=send]').click();
  await waitFor(page, (t) => document.body.innerText.includes(t), text, 20000, 'the Korean message');
  await page.evaluate(() => document.fonts.ready);
  const glyphs = await page.evaluate(async (t) => {
    const el = [...document.querySelectorAll('.msg')].find((m) => m.textContent.includes(t));
    const family = getComputedStyle(el).fontFamily;
    await document.fonts.load(`16px ${family}`, t);
    // two different syllables drawn with the page's font stack: real glyphs differ, boxes do not
    const draw = (ch, fam) => {
      const c = document.createElement('canvas');
      c.width = 40; c.height = 40;
      const g = c.getContext('2d');
      g.font = `32px ${fam}`;
      g.fillText(ch, 2, 32);
      return Array.from(g.getImageData(0, 0, 40, 40).data);
    };
    const same = (a, b) => a.every((v, i) => v === b[i]);
    const ink = (a) => a.filter((v, i) => i % 4 === 3 && v > 0).length;
    const bare = 'system-ui, sans-serif';  // what the page would show without the bundled font
    return {
      family,
      loaded: document.fonts.check(`16px "Noto Sans KR"`, t),
      pageDiffers: !same(draw('가', family), draw('나', family)),
      pageInk: ink(draw('가', family)),
      bareDiffers: !same(draw('가', bare), draw('나', bare)),
    };
  }, text);
  const note = await page.locator('[data-testid=answer-languages]').innerText().catch(() => null);
  report({ ok: true, glyphs, note, consoleErrors });
}
