// The widget on bad networks (issue 15): a server that accepts a request and never answers,
// an answer lost on the way back, two tabs of one session. The widget is embedded in a page of
// a "host site" (helpers.mjs startHost) that passes requests on to the real tanya and can
// stall chat requests.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DESKTOP,
  PASSWORD,
  TIMEOUT,
  assertPasswordNowhere,
  botKeys,
  hostPage,
  input,
  lastBotKey,
  openChat,
  say,
  screenshot,
  startHost,
  startOver,
  startTanya,
  transcript,
  userRows,
  waitForReply,
  waitForRows,
  withBrowser,
} from './helpers.mjs';

/** The widget's time limit on these pages, in seconds (data-timeout; the default is 15). */
const LIMIT_S = 2;

describe('a server that never answers', () => {
  let tanya;
  let host;

  before(async () => {
    tanya = await startTanya();
    host = await startHost(tanya.url);
    host.page('/', hostPage({ attributes: `data-timeout="${LIMIT_S}"` }));
  });

  after(async () => {
    await host?.stop();
    await tanya?.stop();
  });

  test('the request times out: the dots go, the error says so and its retry is answered', TIMEOUT, async () => {
    await withBrowser('timeout', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(`${host.url}/`);
      await openChat(page);
      host.hangChat(true);
      const sent = host.chatRequests.length;
      await input(page).fill('saya lupa password jmo');
      const started = Date.now();
      await input(page).press('Enter');
      await page.locator('.tw-typing').waitFor({ state: 'visible' });

      const alert = page.getByRole('alert');
      await alert.waitFor({ state: 'visible', timeout: (LIMIT_S + 5) * 1000 });
      const waited = Date.now() - started;
      assert.ok(waited >= LIMIT_S * 1000 - 100, `gave up after the time limit, not before (${waited} ms)`);
      assert.equal(await page.locator('.tw-typing').isVisible(), false, 'the typing dots are gone');
      assert.match(await alert.textContent(), /Server tidak menjawab/);
      assert.equal(await input(page).inputValue(), 'saya lupa password jmo', 'nothing typed is lost');
      assert.equal(await userRows(page).count(), 0);
      await screenshot(page, 'timeout');

      // The server is back: the retry is answered, with the same message id.
      host.hangChat(false);
      const before = (await botKeys(page)).length;
      await page.getByRole('button', { name: 'Coba lagi' }).click();
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'ask_email_kpj');
      assert.equal(await alert.isVisible(), false);
      const ids = host.chatRequests.slice(sent).map((r) => r.client_message_id);
      assert.equal(ids.length, 2, `the first try and the retry: ${ids}`);
      assert.equal(ids[0], ids[1], 'the retry keeps the message id');
    });
  });

  test('"Percakapan baru" is never blocked by a request that hangs', TIMEOUT, async () => {
    await withBrowser('timeout-new-conversation', { viewport: DESKTOP }, async ({ page, problems }) => {
      await page.goto(`${host.url}/`);
      await openChat(page);
      await say(page, 'halo');
      host.hangChat(true);
      await input(page).fill('lupa password');
      await input(page).press('Enter');
      await page.locator('.tw-typing').waitFor({ state: 'visible' });

      await startOver(page);
      assert.deepEqual(await botKeys(page), ['widget_greeting']);
      assert.equal(await userRows(page).count(), 0);
      assert.equal(await page.locator('.tw-typing').isVisible(), false, 'no typing dots');
      assert.equal(await page.evaluate(() => window.TanyaWidget.sessionId()), null);

      // The new conversation works, and the dropped request never comes back as an error.
      host.hangChat(false);
      await say(page, 'halo');
      assert.equal(await lastBotKey(page), 'greet');
      await page.waitForTimeout(LIMIT_S * 1000 + 500);
      assert.equal(await page.getByRole('alert').isVisible(), false, 'no late error');
      assert.deepEqual(await botKeys(page), ['widget_greeting', 'greet']);
      assert.deepEqual(problems, []);
    });
  });
});

describe('errors', () => {
  let tanya;

  before(async () => {
    tanya = await startTanya();
  });

  after(async () => {
    await tanya?.stop();
  });

  test("the error tells the member's connection from a server at fault and from a rate limit", TIMEOUT, async () => {
    await withBrowser('error-kinds', { viewport: DESKTOP }, async ({ context, page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      const alert = page.getByRole('alert');
      const failing = [
        ['refused', (route) => route.abort('connectionrefused'), /Periksa koneksi internet/],
        ['500', (route) => route.fulfill(errorReply(500, 'internal')), /Server kami sedang mengalami gangguan \(bukan masalah koneksi Anda\)/],
        ['503', (route) => route.fulfill(errorReply(503, 'timeout')), /Server kami sedang mengalami gangguan/],
        ['429', (route) => route.fulfill(errorReply(429, 'rate_limited', { 'Retry-After': '7' })), /Terlalu banyak pesan.*Tunggu 7 detik/],
        ['429 without Retry-After', (route) => route.fulfill(errorReply(429, 'rate_limited')), /Terlalu banyak pesan.*Tunggu sebentar/],
      ];
      for (const [name, answer, expected] of failing) {
        await page.route('**/api/v1/chat', answer);
        await input(page).fill('halo');
        await input(page).press('Enter');
        await alert.waitFor({ state: 'visible' });
        const text = await alert.textContent();
        assert.match(text, expected, name);
        if (name !== 'refused') {
          assert.doesNotMatch(text, /Periksa koneksi/, `${name} does not blame the connection`);
        }
        await page.unroute('**/api/v1/chat');
      }
      await screenshot(page, 'error-rate-limited');

      // Offline: the browser knows, and so does the message.
      await context.setOffline(true);
      await input(page).fill('halo');
      await input(page).press('Enter');
      await page.waitForFunction(() =>
        /offline/.test(document.querySelector('#tanya-widget').shadowRoot.querySelector('.tw-error-text').textContent));
      await context.setOffline(false);

      const before = (await botKeys(page)).length;
      await page.getByRole('button', { name: 'Coba lagi' }).click();
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'greet');
    });
  });
});

describe('in step with the server', () => {
  let tanya;

  before(async () => {
    tanya = await startTanya();
  });

  after(async () => {
    await tanya?.stop();
  });

  test('the answer to a right code is lost: the retry gets the password prompt, not a password check', TIMEOUT, async () => {
    await withBrowser('lost-code-answer', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      const code = await startForgotPassword(page);

      const ids = [];
      // The server checks the code (and moves on to the password), and its answer is lost.
      await page.route('**/api/v1/chat', async (route) => {
        ids.push(JSON.parse(route.request().postData()).client_message_id);
        await route.fetch();
        await route.abort('connectionreset');
      });
      await input(page).fill(code);
      await input(page).press('Enter');
      await page.getByRole('alert').waitFor({ state: 'visible' });
      await page.unroute('**/api/v1/chat');
      await page.route('**/api/v1/chat', async (route) => {
        ids.push(JSON.parse(route.request().postData()).client_message_id);
        await route.continue();
      });

      const before = (await botKeys(page)).length;
      await page.getByRole('button', { name: 'Coba lagi' }).click();
      await waitForReply(page, before);
      assert.equal(ids.length, 2);
      assert.equal(ids[0], ids[1], 'the retry keeps the message id');
      // Answered from the server's replay: the code was not read again as a (weak) password.
      assert.equal(await lastBotKey(page), 'ask_new_password');
      assert.equal(await input(page).getAttribute('type'), 'password');
      await page.unroute('**/api/v1/chat');
      await say(page, PASSWORD);
      assert.equal(await lastBotKey(page), 'password_changed');
    });
  });

  test('after a reload the password field is masked before the history has come', TIMEOUT, async () => {
    await withBrowser('reload-masked', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      await say(page, await startForgotPassword(page));
      assert.equal(await lastBotKey(page), 'ask_new_password');
      // The history takes its time.
      let release;
      const held = new Promise((resolve) => { release = resolve; });
      await page.route('**/history', async (route) => {
        await held;
        await route.continue();
      });
      await page.reload();
      await input(page).waitFor({ state: 'visible' });
      assert.equal(await page.locator('.tw-log').getAttribute('aria-busy'), 'true', 'the history is not in yet');
      assert.equal(await input(page).getAttribute('type'), 'password');
      release();
      await page.waitForFunction(() =>
        !document.querySelector('#tanya-widget').shadowRoot.querySelector('.tw-log').hasAttribute('aria-busy'));
      assert.equal(await lastBotKey(page), 'ask_new_password');
      assert.equal(await input(page).getAttribute('type'), 'password');
    });
  });

  test('two tabs of one session stay in step; the second tab masks the password too', TIMEOUT, async () => {
    await withBrowser('two-tabs', { viewport: DESKTOP }, async ({ context, page: first, problems }) => {
      await first.goto(tanya.url);
      await openChat(first);
      const second = await context.newPage();
      await second.goto(tanya.url);
      await openChat(second);

      // The first tab gets as far as the password prompt; the second follows without a reload.
      await startForgotPassword(first).then((code) => say(first, code));
      assert.equal(await lastBotKey(first), 'ask_new_password');
      const rows = (await transcript(first)).length;
      await waitForRows(second, rows);
      await second.waitForFunction(() =>
        document.querySelector('#tanya-widget').shadowRoot.querySelector('#tw-input').type === 'password'
      );
      // The same turns (the server's history masks the e-mail, KPJ and code the first tab
      // shows as typed).
      assert.deepEqual(await botKeys(second), await botKeys(first));
      assert.equal((await transcript(second)).length, rows);
      assert.equal(await second.evaluate(() => window.TanyaWidget.sessionId()),
        await first.evaluate(() => window.TanyaWidget.sessionId()));
      await screenshot(second, 'two-tabs-second');

      // The password typed in the second tab is masked there, and the first tab follows.
      await second.bringToFront();
      await say(second, PASSWORD);
      assert.equal(await lastBotKey(second), 'password_changed');
      await waitForRows(first, rows + 2);
      assert.equal(await lastBotKey(first), 'password_changed');
      assert.equal(await input(first).getAttribute('type'), 'text');
      assert.deepEqual(await botKeys(first), await botKeys(second));
      const mine = await userRows(first).last().locator('.tw-bubble').textContent();
      assert.ok(mine.startsWith('••••'), `the first tab shows the password as dots: ${mine}`);
      await assertPasswordNowhere(first);
      await assertPasswordNowhere(second);

      // "Percakapan baru" in one tab starts over in both.
      await first.bringToFront();
      await startOver(first);
      await second.waitForFunction(() => window.TanyaWidget.sessionId() === null);
      await second.waitForFunction(() =>
        document.querySelector('#tanya-widget').shadowRoot.querySelectorAll('.tw-row').length === 1
      );
      assert.deepEqual(await botKeys(second), ['widget_greeting']);
      assert.deepEqual(problems, []);
    });
  });
});

/** A chat API error as tanya sends it (SPEC §7). */
function errorReply(status, code, headers = {}) {
  return {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ error: { code, message: code } }),
  };
}

/** Starts forgot_password as Budi and returns the code from the demo inbox. */
async function startForgotPassword(page) {
  await say(page, 'saya lupa password jmo');
  await say(page, 'budi.santoso@example.com 12345678901');
  assert.equal(await lastBotKey(page), 'otp_sent');
  const code = page.locator('#demo-inbox [data-code]').first();
  await code.waitFor({ state: 'visible' });
  return (await code.textContent()).trim();
}
