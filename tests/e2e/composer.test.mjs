// The widget's input (issue 15): the code step's keypad and autofill, the new password's
// show/hide toggle.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  PASSWORD,
  PHONE,
  TIMEOUT,
  accessibilityViolations,
  assertPasswordNowhere,
  botCount,
  focused,
  input,
  lastBotKey,
  openChat,
  say,
  screenshot,
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
