// The widget on bad networks (issue 15): a server that accepts a request and never answers,
// an answer lost on the way back, two tabs of one session. The widget is embedded in a page of
// a "host site" (helpers.mjs startHost) that passes requests on to the real tanya and can
// stall chat requests.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DESKTOP,
  TIMEOUT,
  botKeys,
  hostPage,
  input,
  lastBotKey,
  openChat,
  say,
  screenshot,
  startHost,
  startTanya,
  userRows,
  waitForReply,
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

      await page.getByRole('button', { name: 'Percakapan baru' }).click();
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
