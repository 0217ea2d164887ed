// The widget's controls (issue 15): the code step's keypad and autofill, the new password's
// show/hide toggle, "Percakapan baru" that asks first, the launcher's unread badge, starters
// that send payloads, the 2,000-character limit.

import assert from 'node:assert/strict';
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
  hostPage,
  input,
  lastBotKey,
  launcher,
  openChat,
  say,
  screenshot,
  startHost,
  startOver,
  startTanya,
  userRows,
  waitForReply,
  withBrowser,
} from './helpers.mjs';

describe('the input', () => {
  let tanya;

  before(async () => {
    tanya = await startTanya();
  });

  after(async () => {
    await tanya?.stop();
  });

  test('the code step opens the numeric keypad with one-time-code autofill; the new password has a show/hide toggle', TIMEOUT, async () => {
    await withBrowser('password-toggle', { viewport: PHONE, mobile: true }, async ({ page, problems }) => {
      await page.goto(tanya.url);
      await openChat(page);
      const toggle = page.getByRole('button', { name: 'Tampilkan password' });
      assert.equal(await toggle.count(), 0, 'no toggle for ordinary text');

      await say(page, 'saya lupa password jmo');
      await say(page, 'budi.santoso@example.com 12345678901');
      assert.equal(await lastBotKey(page), 'otp_sent');
      assert.equal(await input(page).getAttribute('inputmode'), 'numeric');
      assert.equal(await input(page).getAttribute('autocomplete'), 'one-time-code');
      assert.equal(await input(page).getAttribute('autocapitalize'), 'off');
      assert.equal(await input(page).getAttribute('type'), 'text');
      assert.equal(await toggle.count(), 0, 'no toggle for a code');

      const code = page.locator('#demo-inbox [data-code]').first();
      await code.waitFor({ state: 'attached' });
      await say(page, (await code.textContent()).trim());
      assert.equal(await lastBotKey(page), 'ask_new_password');
      assert.equal(await input(page).getAttribute('inputmode'), null, 'the keypad is a code thing');
      assert.equal(await input(page).getAttribute('type'), 'password');
      assert.ok(await toggle.isVisible(), 'a show/hide toggle');
      assert.equal(await toggle.getAttribute('aria-pressed'), 'false');

      // A tap shows what was typed and leaves the focus (and the keyboard) in the field.
      await input(page).fill('lemah');
      await toggle.tap();
      assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
      assert.equal(await input(page).getAttribute('type'), 'text');
      assert.equal(await input(page).inputValue(), 'lemah');
      assert.equal((await focused(page)).id, 'tw-input');
      await screenshot(page, 'password-shown');

      // Sent while shown: the bubble is dots all the same, and the next try starts masked.
      const before = await botCount(page);
      await input(page).press('Enter');
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'password_weak');
      assert.ok((await userRows(page).last().textContent()).includes('••••'));
      assert.equal(await input(page).getAttribute('type'), 'password');
      assert.equal(await toggle.getAttribute('aria-pressed'), 'false');

      // With the keyboard: Space on the focused toggle shows and hides.
      await input(page).fill(PASSWORD);
      await toggle.focus();
      await page.keyboard.press('Space');
      assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
      assert.equal(await input(page).getAttribute('type'), 'text');
      await page.keyboard.press('Space');
      assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
      assert.equal(await input(page).getAttribute('type'), 'password');
      assert.deepEqual(problems, []);
      // (axe's own inline styles break the demo page's CSP: problems are not checked after it.)
      assert.deepEqual(await accessibilityViolations(page), []);

      await say(page, PASSWORD);
      assert.equal(await lastBotKey(page), 'password_changed');
      assert.equal(await toggle.count(), 0, 'the toggle goes with the password step');
      assert.equal(await input(page).getAttribute('type'), 'text');
      await assertPasswordNowhere(page);
    });
  });
});

describe('the header and the launcher', () => {
  let tanya;

  before(async () => {
    tanya = await startTanya();
  });

  after(async () => {
    await tanya?.stop();
  });

  test('"Percakapan baru" asks before it wipes the conversation', TIMEOUT, async () => {
    await withBrowser('confirm-restart', { viewport: DESKTOP }, async ({ page, problems }) => {
      await page.goto(tanya.url);
      await openChat(page);
      await say(page, 'cek saldo jht');
      const keys = await botKeys(page);
      const restart = page.getByRole('button', { name: 'Percakapan baru' });
      const question = page.getByRole('alertdialog', { name: /Mulai percakapan baru\?/ });

      await restart.click();
      await question.waitFor({ state: 'visible' });
      assert.equal((await focused(page)).label, 'Batal', 'the harmless answer has the focus');
      await screenshot(page, 'confirm-restart');
      // Escape says no (and leaves the chat open); so does Batal.
      await page.keyboard.press('Escape');
      assert.equal(await question.isVisible(), false);
      assert.ok(await page.locator('.tw-panel').isVisible(), 'the chat stays open');
      assert.equal((await focused(page)).label, 'Percakapan baru');
      await restart.click();
      await question.getByRole('button', { name: 'Batal' }).click();
      assert.deepEqual(await botKeys(page), keys, 'nothing was wiped');
      assert.equal(await userRows(page).count(), 1);

      await restart.click();
      await question.getByRole('button', { name: 'Mulai baru' }).click();
      assert.deepEqual(await botKeys(page), ['widget_greeting']);
      assert.equal(await page.evaluate(() => window.TanyaWidget.sessionId()), null);
      // With nothing to lose there is nothing to ask.
      await restart.click();
      assert.equal(await question.isVisible(), false);
      assert.deepEqual(problems, []);
    });
  });

  test('answers that come while the chat is closed show as a badge on the launcher', TIMEOUT, async () => {
    await withBrowser('unread-badge', { viewport: DESKTOP }, async ({ page, problems }) => {
      await page.goto(tanya.url);
      await openChat(page);
      const badge = page.locator('.tw-badge');
      assert.equal(await badge.isVisible(), false);
      const unread = [];
      await page.exposeFunction('recordUnread', (count) => unread.push(count));
      await page.evaluate(() => window.addEventListener('tanya:unread', (e) => window.recordUnread(e.detail.count)));

      // A slow answer: the member closes the chat before it comes.
      await page.route('**/api/v1/chat', async (route) => {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await route.continue();
      });
      const before = await botCount(page);
      await input(page).fill('lupa password');
      await input(page).press('Enter');
      await page.keyboard.press('Escape');
      assert.equal(await page.locator('.tw-panel').isVisible(), false);
      await waitForReply(page, before);
      const arrived = (await botCount(page)) - before;
      assert.ok(arrived >= 1);
      await badge.waitFor({ state: 'visible' });
      assert.equal(await badge.textContent(), String(arrived));
      assert.equal(await launcher(page).getAttribute('aria-label'), `Buka chat Tanya Jessi, ${arrived} pesan baru`);
      assert.deepEqual(unread, [arrived], 'the page is told too (tanya:unread)');
      await screenshot(page, 'unread-badge');

      // Opening reads them.
      await launcher(page).click();
      assert.equal(await badge.isVisible(), false);
      await page.keyboard.press('Escape');
      assert.equal(await launcher(page).getAttribute('aria-label'), 'Buka chat Tanya Jessi');
      assert.deepEqual(unread, [arrived, 0]);
      assert.deepEqual(problems, []);
    });
  });
});

describe('what the member sends', () => {
  let tanya;
  let host;

  before(async () => {
    tanya = await startTanya();
    host = await startHost(tanya.url);
    host.page('/', hostPage({ attributes: 'data-starters="Saldo saya = /check_jht_balance|halo|"' }));
  });

  after(async () => {
    await host?.stop();
    await tanya?.stop();
  });

  test('starter buttons send payloads (and data-starters can say which)', TIMEOUT, async () => {
    await withBrowser('starters', { viewport: DESKTOP }, async ({ page, problems }) => {
      const sent = [];
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url().endsWith('/api/v1/chat')) {
          sent.push(JSON.parse(request.postData()));
        }
      });
      await page.goto(tanya.url);
      await openChat(page);
      const starters = await page.locator('.tw-reply').evaluateAll((bs) => bs.map((b) => [b.textContent, b.dataset.payload]));
      assert.deepEqual(starters, [
        ['Lupa akun JMO', '/forgot_account'],
        ['Lupa password JMO', '/forgot_password'],
        ['Cek saldo JHT', '/check_jht_balance'],
      ]);
      const before = await botCount(page);
      await page.getByRole('button', { name: 'Lupa password JMO' }).click();
      await waitForReply(page, before);
      assert.equal(await lastBotKey(page), 'ask_email_kpj');
      assert.equal(sent.length, 1);
      assert.equal(sent[0].payload, '/forgot_password');
      assert.equal(sent[0].text, undefined, 'no typed text');
      assert.equal(await userRows(page).last().locator('.tw-bubble').textContent(), 'Lupa password JMO');
      // After a reload the member's line is still the starter's title, not its payload.
      await page.reload();
      await userRows(page).first().waitFor();
      assert.equal(await userRows(page).first().locator('.tw-bubble').textContent(), 'Lupa password JMO');

      // A site's own starters: "Title = /payload" is a payload, a bare title is text.
      sent.length = 0;
      await page.goto(`${host.url}/`);
      await openChat(page);
      assert.deepEqual(await page.locator('.tw-reply').allTextContents(), ['Saldo saya', 'halo']);
      let count = await botCount(page);
      await page.getByRole('button', { name: 'Saldo saya' }).click();
      await waitForReply(page, count);
      assert.equal(await lastBotKey(page), 'ask_kpj_nik');
      await startOver(page);
      count = await botCount(page);
      await page.getByRole('button', { name: 'halo' }).click();
      await waitForReply(page, count);
      assert.equal(await lastBotKey(page), 'greet');
      assert.deepEqual(sent.map((b) => [b.payload, b.text]), [['/check_jht_balance', undefined], [undefined, 'halo']]);
      assert.deepEqual(problems, []);
    });
  });

  test('a paste over 2,000 characters is refused with a message, not cut', TIMEOUT, async () => {
    await withBrowser('paste-limit', { viewport: DESKTOP }, async ({ context, page, problems }) => {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: tanya.url });
      const sent = [];
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url().endsWith('/api/v1/chat')) {
          sent.push(JSON.parse(request.postData()));
        }
      });
      await page.goto(tanya.url);
      await openChat(page);
      const limit = page.locator('.tw-limit');
      const paste = async (text) => {
        await page.evaluate((t) => navigator.clipboard.writeText(t), text);
        await input(page).focus();
        await page.keyboard.press('Control+V');
      };

      await input(page).fill('halo ');
      await paste('a'.repeat(2500));
      assert.equal(await input(page).inputValue(), 'halo ', 'the paste was not let in, nor a part of it');
      await limit.waitFor({ state: 'visible' });
      assert.match(await limit.textContent(), /tidak ditempel: 2\.505 karakter, padahal maksimal 2\.000/);
      assert.equal(await limit.getAttribute('role'), 'alert');
      await screenshot(page, 'paste-too-long');

      // Up to the limit is fine: 5 + 1995 characters.
      await paste('b'.repeat(1995));
      assert.equal((await input(page).inputValue()).length, 2000);
      assert.equal(await limit.isVisible(), false);
      assert.equal(await page.locator('.tw-send').isDisabled(), false);

      // One more (typed or dropped, not pasted): marked, and it cannot be sent.
      await page.keyboard.insertText('c');
      await limit.waitFor({ state: 'visible' });
      assert.match(await limit.textContent(), /terlalu panjang: 2\.001 karakter, maksimal 2\.000/);
      assert.equal(await input(page).getAttribute('aria-invalid'), 'true');
      assert.match(await input(page).getAttribute('aria-describedby'), /tw-limit/);
      assert.ok(await page.locator('.tw-send').isDisabled());
      await input(page).press('Enter');
      await page.waitForTimeout(300);
      assert.deepEqual(sent, [], 'nothing was sent');
      assert.equal((await input(page).inputValue()).length, 2001, 'nothing was cut');

      // Emoji are one character each, as the server counts them.
      await input(page).fill('😀'.repeat(2000));
      assert.equal(await limit.isVisible(), false);
      await page.keyboard.press('Backspace');
      await input(page).fill('halo');
      assert.equal(await input(page).getAttribute('aria-invalid'), null);
      const count = await botCount(page);
      await input(page).press('Enter');
      await waitForReply(page, count);
      assert.equal(sent.length, 1);
      assert.deepEqual(problems, []);
    });
  });
});