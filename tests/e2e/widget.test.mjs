// The web chat widget and the demo page in a real browser (Debian's headless Chromium through
// playwright-core) against the real tanya binary. Each test saves a screenshot in
// tests/e2e/screenshots/. Run: `cargo test --release --test widget_e2e`, or in this folder
// `npm ci && npm test` (see the README's "Web chat widget" section).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  DESKTOP,
  PASSWORD,
  PHONE,
  TIMEOUT,
  accessibilityViolations,
  assertPasswordNowhere,
  botCount,
  botKeys,
  focused,
  horizontalOverflow,
  input,
  lastBotKey,
  launcher,
  openChat,
  replies,
  say,
  screenshot,
  startOver,
  startTanya,
  tabTo,
  transcript,
  userRows,
  waitForReply,
  waitForRows,
  withBrowser,
} from './helpers.mjs';

describe('tanya web chat widget', () => {
  let tanya;

  before(async () => {
    tanya = await startTanya();
  });

  after(async () => {
    await tanya?.stop();
  });

  test('the demo page is served with a CSP and the widget assets with types and caching', TIMEOUT, async () => {
    const page = await fetch(`${tanya.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    const csp = page.headers.get('content-security-policy');
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    const html = await page.text();
    assert.match(html, /<body data-mode="demo">/);

    const js = await fetch(`${tanya.url}/widget/widget.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.match(js.headers.get('cache-control'), /max-age=\d+/);
    const etag = js.headers.get('etag');
    assert.ok(etag, 'an ETag');
    const again = await fetch(`${tanya.url}/widget/widget.js`, {
      headers: { 'If-None-Match': etag },
    });
    assert.equal(again.status, 304);

    const css = await fetch(`${tanya.url}/widget/widget.css`);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal((await fetch(`${tanya.url}/widget/nope.js`)).status, 404);
    // CORS is off unless TANYA_CORS_ORIGINS says otherwise.
    const chat = await fetch(`${tanya.url}/api/v1/chat`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: 'https://elsewhere.example' },
      body: JSON.stringify({ text: 'halo' }),
    });
    assert.equal(chat.headers.get('access-control-allow-origin'), null);
  });

  test('forgot_password end to end, with the code read from the demo inbox', TIMEOUT, async () => {
    await withBrowser('forgot-password', { viewport: DESKTOP }, async ({ page, problems }) => {
      await page.goto(tanya.url);
      await openChat(page);
      assert.equal((await focused(page)).id, 'tw-input', 'opening the chat focuses the input');
      assert.equal(await lastBotKey(page), 'widget_greeting');

      await say(page, 'saya lupa password jmo');
      assert.equal(await lastBotKey(page), 'ask_email_kpj');
      await say(page, 'budi.santoso@example.com 12345678901');
      assert.equal(await lastBotKey(page), 'otp_sent');
      // The server expects a code: the numeric keypad and the SMS code autofill.
      assert.equal(await input(page).getAttribute('inputmode'), 'numeric');
      assert.equal(await input(page).getAttribute('autocomplete'), 'one-time-code');

      // The demo inbox shows the e-mail "sent" to Budi, with its code.
      const code = page.locator('#demo-inbox [data-code]').first();
      await code.waitFor({ state: 'visible' });
      const otp = (await code.textContent()).trim();
      assert.match(otp, /^\d{6}$/);
      assert.match(await page.locator('#demo-inbox .inbox-to').first().textContent(), /b\*\*\*@example\.com/);

      await say(page, otp);
      assert.equal(await lastBotKey(page), 'ask_new_password');
      assert.equal(await input(page).getAttribute('type'), 'password', 'a password field');
      assert.ok(await page.locator('.tw-hint').isVisible(), 'the password hint is shown');
      // A reload while the bot waits for the password keeps the password field.
      const rows = await transcript(page);
      await page.reload();
      await waitForRows(page, rows.length);
      assert.equal(await lastBotKey(page), 'ask_new_password');
      assert.equal(await input(page).getAttribute('type'), 'password', 'still a password field');

      await say(page, PASSWORD);
      assert.equal(await lastBotKey(page), 'password_changed');
      assert.equal(await input(page).getAttribute('type'), 'text', 'back to a text field');
      const mine = await userRows(page).last().locator('.tw-bubble').textContent();
      assert.ok(mine.startsWith('••••'), `the password is hidden, got ${mine}`);
      await assertPasswordNowhere(page);
      await screenshot(page, 'forgot-password-desktop');

      // After a reload the history (from the server) still hides the password.
      const before = await transcript(page);
      await page.reload();
      await waitForRows(page, before.length);
      assert.ok(await input(page).isVisible(), 'the chat reopens after a reload');
      const after = await transcript(page);
      assert.deepEqual(after.map(([from]) => from), before.map(([from]) => from));
      assert.ok(after.some(([from, text]) => from === 'user' && text.startsWith('••••')));
      await assertPasswordNowhere(page);
      assert.deepEqual(problems, []);
    });
  });

  test('a quick reply sends its payload and shows its title', TIMEOUT, async () => {
    await withBrowser('quick-reply', { viewport: DESKTOP }, async ({ page, problems }) => {
      await page.goto(tanya.url);
      await openChat(page);
      await say(page, 'halo');
      assert.equal(await lastBotKey(page), 'greet');
      const button = page.locator('.tw-reply[data-payload="/forgot_password"]');
      const title = (await button.textContent()).trim();
      assert.ok(title.length > 0);

      const before = await botCount(page);
      await button.click();
      // The typing indicator shows while the bot answers.
      await page.locator('.tw-typing').waitFor({ state: 'visible' });
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'ask_email_kpj');
      const shown = await userRows(page).last().locator('.tw-bubble').textContent();
      assert.equal(shown, title, "the button's title is the member's bubble");
      assert.equal(await page.locator('.tw-reply[data-payload="/forgot_password"]').count(), 0, 'answered buttons go away');

      // Every message carries a time.
      const times = await page.locator('.tw-row--user .tw-time').allTextContents();
      assert.ok(times.every((t) => /\d{2}[.:]\d{2}/.test(t)), times.join(','));
      await screenshot(page, 'quick-reply');
      assert.deepEqual(problems, []);
    });
  });

  test('the conversation survives a reload; "Percakapan baru" starts over', TIMEOUT, async () => {
    await withBrowser('reload', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      await say(page, 'cek saldo jht');
      await say(page, 'halo');
      const before = await transcript(page);
      const buttonsBefore = await replies(page).allTextContents();
      assert.ok(buttonsBefore.length > 0, 'the greeting has buttons');
      const session = await page.evaluate(() => window.TanyaWidget.sessionId());
      assert.match(session, /^[0-9a-f]{40}$/);

      await page.reload();
      await waitForRows(page, before.length);
      // Same messages (the server keeps the times), and the last turn's buttons are back.
      assert.deepEqual(await transcript(page), before);
      assert.deepEqual(await replies(page).allTextContents(), buttonsBefore);
      assert.equal(await page.evaluate(() => window.TanyaWidget.sessionId()), session);
      await screenshot(page, 'history-restored');

      // The conversation goes on in the same session.
      await say(page, 'lupa password');
      assert.equal(await lastBotKey(page), 'ask_email_kpj');
      assert.equal(await page.evaluate(() => window.TanyaWidget.sessionId()), session);

      await startOver(page);
      assert.deepEqual(await botKeys(page), ['widget_greeting']);
      assert.equal(await userRows(page).count(), 0);
      assert.equal(await page.evaluate(() => window.TanyaWidget.sessionId()), null);
      await say(page, 'halo');
      const fresh = await page.evaluate(() => window.TanyaWidget.sessionId());
      assert.match(fresh, /^[0-9a-f]{40}$/);
      assert.notEqual(fresh, session);
    });
  });

  test('an XSS payload typed by the member shows as literal text', TIMEOUT, async () => {
    await withBrowser('xss', { viewport: DESKTOP }, async ({ page, problems }) => {
      const dialogs = [];
      page.on('dialog', async (dialog) => {
        dialogs.push(dialog.message());
        await dialog.dismiss();
      });
      const payload = `<img src=x onerror="alert('xss')"><script>alert("xss2")</script><b>tebal</b> & "kutip"`;
      await page.goto(tanya.url);
      await openChat(page);
      await say(page, payload);
      const bubble = userRows(page).last().locator('.tw-bubble');
      assert.equal(await bubble.textContent(), payload);
      const injected = await page.evaluate(() =>
        document.querySelector('#tanya-widget').shadowRoot.querySelectorAll('.tw-log img, .tw-log script, .tw-log b').length
      );
      assert.equal(injected, 0, 'no element was created from the text');
      await screenshot(page, 'xss-literal');

      // The same after a reload, when the text comes back from the server's history.
      await page.reload();
      await userRows(page).first().waitFor();
      assert.equal(await userRows(page).last().locator('.tw-bubble').textContent(), payload);
      await page.waitForTimeout(300);
      assert.deepEqual(dialogs, [], 'no dialog opened');
      assert.equal(await page.evaluate(() => document.querySelectorAll('img[src="x"]').length), 0);
      assert.deepEqual(problems, []);
    });
  });

  test('at 375 px the chat fills the screen without horizontal scrolling', TIMEOUT, async () => {
    await withBrowser('mobile', { viewport: PHONE, mobile: true }, async ({ page, problems }) => {
      await page.goto(tanya.url);
      assert.equal(await horizontalOverflow(page), 0, 'the page itself does not scroll sideways');
      await screenshot(page, 'mobile-375-page', { fullPage: true });
      await launcher(page).tap();
      await input(page).waitFor({ state: 'visible' });
      await page.locator('.tw-panel').evaluate((el) => Promise.all(el.getAnimations().map((a) => a.finished)));
      const panel = await page.locator('.tw-panel').boundingBox();
      assert.deepEqual([panel.x, panel.y, panel.width, panel.height], [0, 0, PHONE.width, PHONE.height]);

      await say(page, 'saya lupa password jmo');
      await say(page, 'a'.repeat(150) + ' https://www.example.com/' + 'b'.repeat(80));
      await say(page, 'halo');
      assert.equal(await horizontalOverflow(page), 0);
      const log = await page.locator('.tw-log').evaluate((el) => el.scrollWidth - el.clientWidth);
      assert.equal(log, 0, 'the conversation does not scroll sideways');
      const buttons = await replies(page).evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().right));
      assert.ok(buttons.every((right) => right <= PHONE.width), `buttons fit: ${buttons}`);
      await screenshot(page, 'mobile-375');
      assert.deepEqual(problems, []);
    });
  });

  test('keyboard only: Tab to the chat, type, Enter; Tab to a quick reply, Enter', TIMEOUT, async () => {
    await withBrowser('keyboard', { viewport: DESKTOP }, async ({ page, problems }) => {
      await page.goto(tanya.url);
      const opener = await tabTo(page, (f) => f.className.includes('tw-launcher'));
      assert.notEqual(opener.outline.split(' ')[0], 'none', 'the focus is visible');
      await page.keyboard.press('Enter');
      assert.equal((await focused(page)).id, 'tw-input', 'Enter opens the chat at the input');

      // Enter on an empty input sends nothing.
      await page.keyboard.press('Enter');
      assert.equal(await userRows(page).count(), 0);

      let before = await botCount(page);
      await page.keyboard.type('halo');
      await page.keyboard.press('Enter');
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'greet');

      // Backwards from the input into the quick replies.
      const reply = await tabTo(page, (f) => f.payload === '/forgot_password', { backwards: true });
      assert.match(reply.outline, /^solid [23]px$/, `a visible focus ring, got ${reply.outline}`);
      await screenshot(page, 'keyboard-focus');
      before = await botCount(page);
      await page.keyboard.press('Enter');
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'ask_email_kpj');

      // Tab reaches the input again from the conversation.
      await page.locator('.tw-log').focus();
      await tabTo(page, (f) => f.id === 'tw-input', { limit: 10 });
      before = await botCount(page);
      await page.keyboard.type('batal');
      await page.keyboard.press('Enter');
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'cancelled');

      // Escape closes the chat and gives the focus back to the launcher.
      await page.keyboard.press('Escape');
      assert.equal(await page.locator('.tw-panel').isVisible(), false);
      assert.ok((await focused(page)).className.includes('tw-launcher'));
      assert.deepEqual(problems, []);
    });
  });

  test('axe-core finds no WCAG 2.1 A/AA violations, chat closed or open, desktop or phone', TIMEOUT, async () => {
    for (const [name, options] of [
      ['accessibility-desktop', { viewport: DESKTOP }],
      ['accessibility-phone', { viewport: PHONE, mobile: true }],
    ]) {
      await withBrowser(name, options, async ({ page }) => {
        await page.goto(tanya.url);
        assert.deepEqual(await accessibilityViolations(page), [], `${name}, chat closed`);
        await openChat(page);
        await say(page, 'halo');
        await say(page, 'lupa password');
        await say(page, 'budi.santoso@example.com 12345678901');
        await page.locator('#demo-inbox [data-code]').first().waitFor();
        assert.deepEqual(await accessibilityViolations(page), [], `${name}, chat open`);
      });
    }
  });

  test('when the server is unreachable the error offers a retry and keeps the text', TIMEOUT, async () => {
    await withBrowser('unreachable', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      await page.route('**/api/v1/chat', (route) => route.abort('connectionrefused'));
      await input(page).fill('saya lupa password');
      await input(page).press('Enter');
      const alert = page.getByRole('alert');
      await alert.waitFor({ state: 'visible' });
      assert.match(await alert.textContent(), /Server tidak dapat dihubungi/);
      assert.equal(await input(page).inputValue(), 'saya lupa password', 'nothing typed is lost');
      assert.equal(await userRows(page).count(), 0, 'the failed message is not shown as sent');
      await screenshot(page, 'server-unreachable');

      await page.unroute('**/api/v1/chat');
      const before = await botCount(page);
      await page.getByRole('button', { name: 'Coba lagi' }).click();
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'ask_email_kpj');
      assert.equal(await input(page).inputValue(), '');
      assert.equal(await alert.isVisible(), false);
      assert.equal(await userRows(page).count(), 1);
    });
  });
});

describe('retries', () => {
  let tanya;
  before(async () => { tanya = await startTanya(); });
  after(async () => { await tanya?.stop(); });

  test('a password whose answer was lost is sent again with the same id and kept once', TIMEOUT, async () => {
    await withBrowser('lost-answer', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      await say(page, 'saya lupa password jmo');
      await say(page, 'budi.santoso@example.com 12345678901');
      const code = page.locator('#demo-inbox [data-code]').first();
      await code.waitFor({ state: 'visible' });
      await say(page, (await code.textContent()).trim());
      assert.equal(await lastBotKey(page), 'ask_new_password');

      const ids = [];
      // The server processes the password, and its answer is lost on the way back.
      await page.route('**/api/v1/chat', async (route) => {
        ids.push(JSON.parse(route.request().postData()).client_message_id);
        await route.fetch();
        await route.abort('connectionreset');
      });
      await input(page).fill(PASSWORD);
      await input(page).press('Enter');
      await page.getByRole('alert').waitFor({ state: 'visible' });
      await page.unroute('**/api/v1/chat');
      await page.route('**/api/v1/chat', async (route) => {
        ids.push(JSON.parse(route.request().postData()).client_message_id);
        await route.continue();
      });
      const before = await botCount(page);
      await page.getByRole('button', { name: 'Coba lagi' }).click();
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'password_changed');
      assert.equal(ids.length, 2, `two requests, got ${ids}`);
      assert.equal(ids[0], ids[1], 'the retry keeps the message id');
      assert.ok(ids[0] && ids[0].length <= 64, `a client_message_id: ${ids[0]}`);
      await page.unroute('**/api/v1/chat');

      // The server kept the password turn once, as dots.
      const rows = await transcript(page);
      await page.reload();
      await waitForRows(page, rows.length);
      const hidden = await userRows(page).filter({ hasText: '••••' }).count();
      assert.equal(hidden, 1, 'one password line in the history');
      await assertPasswordNowhere(page);
    });
  });
});

describe('embedding on another origin', () => {
  let host;
  let tanya;
  let hostUrl;

  before(async () => {
    // A page of "another site" that embeds the widget with one script tag.
    host = createServer((request, response) => {
      const server = new URL(request.url, 'http://x').searchParams.get('server');
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      response.end(`<!doctype html><html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Situs lain</title></head>
<body><h1>Portal Mitra</h1><p>Halaman di origin lain yang memasang widget tanya.</p>
<script src="${server}/widget/widget.js" data-server="${server}" data-title="Bantuan Peserta"
 data-accent="#5b21b6" data-greeting="Halo dari Portal Mitra!" data-starters=""></script></body></html>`);
    });
    await new Promise((resolve) => host.listen(0, '127.0.0.1', resolve));
    hostUrl = `http://127.0.0.1:${host.address().port}`;
    tanya = await startTanya({ TANYA_CORS_ORIGINS: hostUrl });
  });

  after(async () => {
    await tanya?.stop();
    await new Promise((resolve) => host?.close(resolve));
  });

  test('works from an origin listed in TANYA_CORS_ORIGINS, not from others', TIMEOUT, async () => {
    await withBrowser('cross-origin', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(`${hostUrl}/?server=${encodeURIComponent(tanya.url)}`);
      await openChat(page);
      assert.equal(await page.locator('.tw-title').textContent(), 'Bantuan Peserta');
      await say(page, 'halo');
      assert.equal(await lastBotKey(page), 'greet');
      await screenshot(page, 'cross-origin-embed');

      // The same page on "localhost" is another origin, not in the list: the browser blocks it.
      await page.goto(`${hostUrl.replace('127.0.0.1', 'localhost')}/?server=${encodeURIComponent(tanya.url)}`);
      await openChat(page);
      await input(page).fill('halo');
      await input(page).press('Enter');
      await page.getByRole('alert').waitFor({ state: 'visible' });
      assert.equal(await input(page).inputValue(), 'halo');
    });
  });
});
