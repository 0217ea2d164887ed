// The widget on small and short screens and on hostile host pages (issue 15): heights at
// 200 % and 400 % zoom and on a phone held sideways (WCAG 1.4.10 reflow).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DESKTOP,
  TIMEOUT,
  openChat,
  say,
  screenshot,
  startTanya,
  withBrowser,
} from './helpers.mjs';

describe('layout', () => {
  let tanya;

  before(async () => {
    tanya = await startTanya();
  });

  after(async () => {
    await tanya?.stop();
  });

  // A 1280 x 720 laptop at 200 % and 400 % zoom is a 640 x 360 and a 320 x 180 CSS px screen.
  for (const [name, viewport, mobile] of [
    ['zoom-200', { width: 640, height: 360 }, false],
    ['zoom-400', { width: 320, height: 180 }, false],
    ['phone-sideways', { width: 740, height: 360 }, true],
  ]) {
    test(`${name} (${viewport.width}x${viewport.height}): the conversation keeps half the screen`, TIMEOUT, async () => {
      await withBrowser(name, { viewport, mobile }, async ({ page, problems }) => {
        await page.goto(tanya.url);
        await openChat(page);
        await say(page, 'halo');
        const layout = await measure(page);
        // The chat takes the whole screen; the header and composer shrink.
        assert.deepEqual(layout.panel, [0, 0, viewport.width, viewport.height], 'full screen');
        assert.ok(
          layout.logHeight >= viewport.height / 2,
          `the log is ${layout.logHeight} px of ${viewport.height}`
        );
        for (const [control, box] of Object.entries(layout.controls)) {
          assert.ok(
            box.top >= 0 && box.left >= 0 && box.bottom <= viewport.height && box.right <= viewport.width,
            `${control} is on screen: ${JSON.stringify(box)}`
          );
        }
        assert.equal(layout.sideways, 0, 'the log does not scroll sideways');
        // The warning of the footer is not lost: it heads the conversation instead.
        assert.ok(await page.locator('.tw-notice').isVisible(), 'the warning is in the log');
        assert.equal(await page.locator('.tw-footer').isVisible(), false);
        await screenshot(page, `height-${name}`);
        assert.deepEqual(problems, []);
      });
    });
  }

  test('on a desktop the panel keeps its size and its footer', TIMEOUT, async () => {
    await withBrowser('height-desktop', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      const layout = await measure(page);
      assert.equal(layout.panel[2], 384);
      assert.ok(layout.logHeight >= 400, `log ${layout.logHeight} px`);
      assert.ok(await page.locator('.tw-footer').isVisible());
      assert.equal(await page.locator('.tw-notice').isVisible(), false, 'the warning shows once');
    });
  });
});

/** The panel's box, the log's height and sideways overflow, and the boxes of the controls. */
async function measure(page) {
  await page.locator('.tw-panel').evaluate((el) => Promise.all(el.getAnimations().map((a) => a.finished)));
  return page.evaluate(() => {
    const root = document.querySelector('#tanya-widget').shadowRoot;
    const box = (selector) => {
      const r = root.querySelector(selector).getBoundingClientRect();
      return { top: r.top, left: r.left, bottom: r.bottom, right: r.right };
    };
    const panel = root.querySelector('.tw-panel').getBoundingClientRect();
    const log = root.querySelector('.tw-log');
    return {
      panel: [panel.x, panel.y, panel.width, panel.height],
      logHeight: log.clientHeight,
      sideways: log.scrollWidth - log.clientWidth,
      controls: {
        input: box('#tw-input'),
        send: box('.tw-send'),
        close: box('.tw-close'),
        restart: box('.tw-restart'),
      },
    };
  });
}
