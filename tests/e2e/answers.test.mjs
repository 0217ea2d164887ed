// Bot answers in the widget (issue 15): e-mail addresses and telephone numbers become mailto:
// and tel: links, built as DOM nodes; everything else stays text.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  PHONE,
  TIMEOUT,
  botCount,
  botRows,
  input,
  lastBotKey,
  openChat,
  say,
  screenshot,
  startTanya,
  waitForReply,
  withBrowser,
} from './helpers.mjs';

/** A bot answer with every kind of link, things that look like numbers, and HTML. */
const ANSWER = [
  'Hubungi call center 175 atau 0812-3456-7890, +62 21 520 7797, (021) 5207797;',
  'e-mail care@bpjsketenagakerjaan.go.id. Situs: www.bpjsketenagakerjaan.go.id.',
  'Bukan nomor telepon: KPJ 12345678901, NIK 3174011203880001, kode 123456, jam 08.00–17.00,',
  'Rp 1.234.567, b***@example.com, 0812****7890, 1234*****01, lantai 175 meter.',
  '<img src=x onerror=alert(1)>@x.com <a href="javascript:alert(2)">klik</a> x"onmouseover="alert(3)@evil.com',
].join('\n');

describe('links in answers', () => {
  let tanya;

  before(async () => {
    tanya = await startTanya();
  });

  after(async () => {
    await tanya?.stop();
  });

  test('e-mail addresses and phone numbers in answers are tappable; the rest stays text', TIMEOUT, async () => {
    await withBrowser('links', { viewport: PHONE, mobile: true }, async ({ page, problems }) => {
      const dialogs = [];
      page.on('dialog', async (dialog) => {
        dialogs.push(dialog.message());
        await dialog.dismiss();
      });
      await page.goto(tanya.url);
      await openChat(page);
      await page.route('**/api/v1/chat', (route) =>
        route.fulfill({
          status: 200,
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            session_id: 'a'.repeat(40),
            messages: [{ key: 'links', text: ANSWER, buttons: [] }],
            intent: null,
            state: 'idle',
            expects: 'text',
          }),
        })
      );
      const count = await botCount(page);
      await input(page).fill('kontak');
      await input(page).press('Enter');
      await waitForReply(page, count);
      await page.unroute('**/api/v1/chat');
      const bubble = botRows(page).last().locator('.tw-bubble');
      const links = await bubble.locator('a').evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
      assert.deepEqual(links, [
        ['175', 'tel:175'],
        ['0812-3456-7890', 'tel:081234567890'],
        ['+62 21 520 7797', 'tel:+62215207797'],
        ['(021) 5207797', 'tel:0215207797'],
        ['care@bpjsketenagakerjaan.go.id', 'mailto:care@bpjsketenagakerjaan.go.id'],
        ['www.bpjsketenagakerjaan.go.id', 'https://www.bpjsketenagakerjaan.go.id'],
      ]);
      // The text reads exactly as sent, and no element came from it but those links.
      assert.equal(await bubble.textContent(), ANSWER);
      assert.equal(await bubble.locator('*').count(), links.length);
      await screenshot(page, 'links');
      // A tel: link is a link a phone can dial: big enough to tap.
      const box = await bubble.locator('a[href="tel:175"]').boundingBox();
      assert.ok(box.height >= 18, `tap target ${box.height} px high`);
      assert.deepEqual(dialogs, []);
      assert.deepEqual(problems, []);
    });
  });

  test("the real hand-off answer: call center 175 and the agency's e-mail", TIMEOUT, async () => {
    await withBrowser('links-human-agent', { viewport: PHONE, mobile: true }, async ({ page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      await say(page, 'saya mau bicara dengan petugas');
      assert.equal(await lastBotKey(page), 'handoff');
      const bubble = botRows(page).last().locator('.tw-bubble');
      assert.equal(await bubble.locator('a[href="tel:175"]').count(), 1);
      assert.equal(await bubble.locator('a[href="mailto:care@bpjsketenagakerjaan.go.id"]').count(), 1);
    });
  });
});
