// The password page (issue 14) in Debian's Chromium. A member on Telegram (a Bot API mock on a
// local port) types the right code and gets the page's link; the page then works with
// JavaScript switched off in the browser (a weak password shows the rules it breaks, a good one
// is stored and the chat is told), loads nothing from anywhere but tanya, fits a phone, and
// axe-core finds no WCAG 2.1 A/AA violation in the form, its error state or the dead-link page
// (axe runs in a browser with JavaScript on; the page itself has no script).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  PASSWORD,
  PHONE,
  TIMEOUT,
  accessibilityViolations,
  screenshot,
  startTanya,
  withBrowser,
} from './helpers.mjs';

const BOT_TOKEN = '123456:e2e-bot-token';
const SECRET = 'e2e-telegram-secret';
const CHAT_ID = 7770001;
/** Eight lower-case letters: no upper case, no digit, no symbol. */
const WEAK = 'sandikux';
const WAIT_MS = 20_000;

/** A Telegram Bot API on a free port: keeps every `sendMessage` body, answers ok. */
async function startTelegram() {
  const sent = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url.endsWith('/sendMessage')) {
        sent.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      }
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ ok: true, result: { message_id: sent.length } }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    sent,
    /** The first message after the first `from` ones for which `matches` holds. */
    async waitFor(from, matches, what) {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const found = sent.slice(from).find(matches);
        if (found) {
          return found;
        }
        assert.ok(Date.now() < deadline, `Telegram never received ${what}: ${JSON.stringify(sent)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let updateId = 0;

/** The member writes `text` in their private Telegram chat with the bot. */
async function telegramSays(tanya, text) {
  updateId += 1;
  const update = {
    update_id: updateId,
    message: {
      message_id: updateId,
      date: Math.floor(Date.now() / 1000),
      from: { id: CHAT_ID, is_bot: false, first_name: 'Budi' },
      chat: { id: CHAT_ID, type: 'private', first_name: 'Budi' },
      text,
    },
  };
  const response = await fetch(`${tanya.url}/webhooks/telegram`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Telegram-Bot-Api-Secret-Token': SECRET },
    body: JSON.stringify(update),
  });
  assert.equal(response.status, 200, await response.text());
}

/** Submits the form with `password` in both fields; the page's answer. */
async function submit(page, password) {
  await page.locator('#new-password').fill(password);
  await page.locator('#confirm-password').fill(password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.getByRole('button').click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

describe('the password page', () => {
  let telegram;
  let tanya;
  let link;

  before(async () => {
    telegram = await startTelegram();
    tanya = await startTanya({
      TANYA_TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TANYA_TELEGRAM_SECRET_TOKEN: SECRET,
      TANYA_TELEGRAM_API_BASE: telegram.url,
    });
    // forgot_password on Telegram up to the link; in demo mode the "SMS" shows in the chat.
    await telegramSays(tanya, 'lupa password budi.santoso@example.com 12345678901');
    const demo = await telegram.waitFor(0, (m) => /\b\d{6}\b/.test(m.text), 'the demo code');
    const code = /\b(\d{6})\b/.exec(demo.text)[1];
    const before = telegram.sent.length;
    await telegramSays(tanya, code);
    const sent = await telegram.waitFor(before, (m) => m.text.includes('/password/'), 'the link');
    const token = /\/password\/([A-Za-z0-9_-]{22})/.exec(sent.text)[1];
    link = `${tanya.url}/password/${token}`;
  });

  after(async () => {
    await tanya?.stop();
    await telegram?.stop();
  });

  test('axe-core finds no WCAG 2.1 A/AA violations in the form and its error state', TIMEOUT, async () => {
    await withBrowser('password-page-axe', { viewport: PHONE, mobile: true }, async ({ page, problems }) => {
      const response = await page.goto(link);
      assert.equal(response.status(), 200);
      // Before axe (its own inline styles break the page's CSP): nothing was refused.
      assert.deepEqual(problems, []);
      assert.deepEqual(await accessibilityViolations(page), []);

      const refused = await submit(page, WEAK);
      assert.equal(refused.status(), 422);
      await page.getByRole('alert').waitFor();
      assert.deepEqual(await accessibilityViolations(page), []);
      await screenshot(page, 'password-page-errors');
    });
  });

  test('with JavaScript off, a weak password shows the rules it breaks and a good one is stored', TIMEOUT, async () => {
    const options = { viewport: PHONE, mobile: true, javaScriptEnabled: false };
    await withBrowser('password-page-no-js', options, async ({ page, problems }) => {
      const requested = [];
      page.on('request', (request) => requested.push(request.url()));
      const response = await page.goto(link);
      assert.equal(response.status(), 200);
      assert.equal(await page.locator('html').getAttribute('lang'), 'id');
      await screenshot(page, 'password-page-form');

      // Big enough to tap: every field and the button at least 44 px tall, none wider than
      // the phone.
      for (const target of ['#new-password', '#confirm-password', 'button']) {
        const box = await page.locator(target).boundingBox();
        assert.ok(box.height >= 44, `${target} is ${box.height} px tall`);
        assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, `${target} overflows`);
      }

      // Upper case, digit and symbol missing: three problems in the summary, each a link to
      // the field, which is marked invalid and emptied.
      const refused = await submit(page, WEAK);
      assert.equal(refused.status(), 422);
      const summary = page.getByRole('alert');
      await summary.waitFor();
      const problemsListed = summary.locator('li a');
      assert.equal(await problemsListed.count(), 3);
      for (let i = 0; i < 3; i += 1) {
        assert.equal(await problemsListed.nth(i).getAttribute('href'), '#new-password');
      }
      assert.equal(await page.locator('#new-password').getAttribute('aria-invalid'), 'true');
      assert.equal(await page.locator('#new-password').inputValue(), '');
      await screenshot(page, 'password-page-no-js-errors');

      const stored = await submit(page, PASSWORD);
      assert.equal(stored.status(), 200);
      assert.equal(await page.getByRole('alert').count(), 0);
      assert.equal(await page.locator('form').count(), 0);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await screenshot(page, 'password-page-done');
      assert.ok(!(await page.content()).includes(PASSWORD), 'the password is not on the page');

      // Nothing came from anywhere but tanya, and the strict policy refused nothing (Chromium
      // reports the refused form's 422 itself as a console error: that one is expected).
      assert.ok(requested.length >= 3, requested.join('\n'));
      for (const url of requested) {
        assert.ok(url.startsWith(`${tanya.url}/`), `a request to ${url}`);
      }
      assert.deepEqual(
        problems.filter((problem) => !/status of 422/.test(problem)),
        []
      );
    });

    // The chat hears it: password_changed, with its "Cek saldo JHT" button, and no password.
    const confirmed = await telegram.waitFor(
      0,
      (m) => JSON.stringify(m.reply_markup || {}).includes('/check_jht_balance'),
      'the confirmation'
    );
    assert.equal(confirmed.chat_id, CHAT_ID);
    assert.ok(telegram.sent.every((m) => !JSON.stringify(m).includes(PASSWORD)));
  });

  test('a used link gets the dead-link page, which passes axe-core too', TIMEOUT, async () => {
    await withBrowser('password-page-gone', { viewport: PHONE, mobile: true }, async ({ page }) => {
      const response = await page.goto(link);
      assert.equal(response.status(), 404);
      await page.getByRole('heading', { level: 1 }).waitFor();
      assert.equal(await page.locator('form').count(), 0);
      assert.match(await page.locator('main').innerText(), /175/);
      assert.deepEqual(await accessibilityViolations(page), []);
    });
  });
});
