// A page on another origin calls the API as the seeds' frontend does (credentials: 'include',
// 000:1052, 000:1089): POST /api/chat from each page URL given; prints what the page saw.
//   node e2e/cors.mjs API_URL PAGE_URL [PAGE_URL...]
import { chromium } from 'playwright-core';
import { CHROMIUM, log, main, report } from './lib.mjs';

const [api, ...pages] = process.argv.slice(2);

main(async () => {
  // no WebGL here: only the plain flags (the full set in lib.mjs is for the 3D client)
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
                                          args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const results = {};
    for (const url of pages) {
      const page = await (await browser.newContext()).newPage();
      const consoleErrors = [];
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
      await page.goto(url);
      log('calling', api, 'from', await page.evaluate(() => location.origin));
      const seen = await page.evaluate(async (apiUrl) => {
        try {
          const r = await fetch(`${apiUrl}/api/chat`, {
            method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ messages: [{ role: 'user', content: '안녕하세요!' }],
                                   max_tokens: 8, tts_enabled: false }),
          });
          const body = await r.json();
          return { status: r.status, success: body.success, content: body.data && body.data.content,
                   sessionId: body.data && body.data.session_id };
        } catch (err) {
          return { error: String(err) };
        }
      }, api);
      results[url] = { origin: await page.evaluate(() => location.origin), ...seen, consoleErrors };
      await page.close();
    }
    report({ ok: true, results });
  } finally {
    await browser.close();
  }
});
