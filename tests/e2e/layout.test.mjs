// The widget on small and short screens and on hostile host pages (issue 15): heights at
// 200 % and 400 % zoom and on a phone held sideways (WCAG 1.4.10 reflow); a host page whose
// CSS tries to restyle the widget through inheritance; focus while the chat covers a phone;
// where the launcher sits (data-position, data-offset-*), or the page's own button; the demo
// inbox on a phone.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DESKTOP,
  PHONE,
  TIMEOUT,
  focused,
  hostPage,
  input,
  lastBotKey,
  openChat,
  say,
  screenshot,
  startHost,
  startTanya,
  tabTo,
  withBrowser,
} from './helpers.mjs';

/**
 * A host site's CSS that would restyle any element it reaches: inherited properties on html,
 * body and every div (the widget's host element is a div), one of them !important.
 */
const HOSTILE_CSS = `<style>
html { font: italic small-caps 700 22px/3 Georgia, serif; text-transform: uppercase;
  letter-spacing: 4px; word-spacing: 12px; color: #c00000; text-align: right; text-indent: 30px;
  direction: rtl; text-shadow: 1px 1px #ff0000; white-space: pre; cursor: crosshair;
  font-stretch: condensed; font-kerning: none; hyphens: auto; tab-size: 20; quotes: "<" ">"; }
body, div { font-family: "Comic Sans MS", cursive; line-height: 40px; text-transform: uppercase;
  letter-spacing: 0.3em; font-weight: 900; }
div { font-size: 30px !important; text-transform: lowercase !important; writing-mode: vertical-rl; }
* { box-sizing: content-box; }
</style>`;

/** Inherited properties that host CSS could push into the widget. */
const INHERITED = [
  'color', 'cursor', 'direction', 'font-family', 'font-kerning', 'font-size', 'font-stretch',
  'font-style', 'font-variant', 'font-weight', 'hyphens', 'letter-spacing', 'line-height',
  'quotes', 'tab-size', 'text-align', 'text-indent', 'text-shadow', 'text-transform',
  'visibility', 'white-space', 'word-spacing', 'writing-mode',
];

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

  test('on a phone the open chat keeps Tab and the screen reader out of the page behind it', TIMEOUT, async () => {
    await withBrowser('focus-phone', { viewport: PHONE, mobile: true }, async ({ page, problems }) => {
      await page.goto(tanya.url);
      await tabTo(page, (f) => f.className.includes('tw-launcher'));
      await page.keyboard.press('Enter');
      assert.equal((await focused(page)).id, 'tw-input');
      await say(page, 'halo');
      assert.equal(await page.locator('.tw-panel').getAttribute('aria-modal'), 'true');
      assert.deepEqual(await pageOutsideWidget(page), { inert: true, count: 5 });

      // Tab and Shift+Tab go round the chat's controls and never into the page.
      const seen = new Set();
      for (const key of [...Array(30).fill('Tab'), ...Array(30).fill('Shift+Tab')]) {
        await page.keyboard.press(key);
        const where = await page.evaluate(() => document.activeElement && document.activeElement.id);
        assert.equal(where, 'tanya-widget', `${key} stays in the chat`);
        const now = await focused(page);
        seen.add(now.id || now.label);
      }
      assert.ok(seen.has('tw-input') && seen.has('Tutup chat') && seen.size >= 5, [...seen].join(', '));
      await screenshot(page, 'focus-phone');

      // Closed, the page is the page again.
      await page.keyboard.press('Escape');
      assert.equal(await page.locator('.tw-panel').getAttribute('aria-modal'), null);
      assert.deepEqual(await pageOutsideWidget(page), { inert: false, count: 5 });
      assert.ok((await focused(page)).className.includes('tw-launcher'));
      await page.keyboard.press('Shift+Tab');
      assert.notEqual(await page.evaluate(() => document.activeElement.id), 'tanya-widget');
      assert.deepEqual(problems, []);
    });
  });

  test('on a desktop the open chat leaves the page usable', TIMEOUT, async () => {
    await withBrowser('focus-desktop', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      assert.equal(await page.locator('.tw-panel').getAttribute('aria-modal'), null);
      assert.deepEqual(await pageOutsideWidget(page), { inert: false, count: 5 });
      // Turned into a short screen, it covers the page and takes it out of reach; back, not.
      await page.setViewportSize({ width: 740, height: 360 });
      await page.waitForFunction(() =>
        document.querySelector('#tanya-widget').shadowRoot.querySelector('.tw-panel').getAttribute('aria-modal') === 'true');
      assert.deepEqual(await pageOutsideWidget(page), { inert: true, count: 5 });
      await page.setViewportSize(DESKTOP);
      await page.waitForFunction(() =>
        !document.querySelector('#tanya-widget').shadowRoot.querySelector('.tw-panel').hasAttribute('aria-modal'));
      assert.deepEqual(await pageOutsideWidget(page), { inert: false, count: 5 });
    });
  });

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

/**
 * Whether the page's top-level elements other than the widget, its scripts and what it keeps
 * usable (data-tanya-keep) are inert: `{inert: true}` when all are, `false` when none is; a
 * mix fails.
 */
async function pageOutsideWidget(page) {
  const states = await page.evaluate(() =>
    [...document.body.children]
      .filter((el) => el.id !== 'tanya-widget' && el.tagName !== 'SCRIPT' && !el.hasAttribute('data-tanya-keep'))
      .map((el) => el.inert)
  );
  const inert = states.every(Boolean);
  assert.ok(inert || states.every((s) => !s), `all or none inert: ${states}`);
  return { inert, count: states.length };
}

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

describe('a host page that tries to restyle the widget', () => {
  let tanya;
  let host;

  before(async () => {
    tanya = await startTanya();
    host = await startHost(tanya.url);
    host.page('/plain', hostPage());
    host.page('/hostile', hostPage({ head: HOSTILE_CSS, lang: 'en' }));
  });

  after(async () => {
    await host?.stop();
    await tanya?.stop();
  });

  test('inherited text styles of the host page do not reach the widget', TIMEOUT, async () => {
    const looks = {};
    for (const name of ['plain', 'hostile']) {
      await withBrowser(`host-css-${name}`, { viewport: DESKTOP }, async ({ page }) => {
        await page.goto(`${host.url}/${name}`);
        await openChat(page);
        await page.locator('.tw-panel').evaluate((el) => Promise.all(el.getAnimations().map((a) => a.finished)));
        looks[name] = await page.evaluate((properties) => {
          const root = document.querySelector('#tanya-widget').shadowRoot;
          return [...root.querySelectorAll('.tw-root, .tw-root *')].map((el) => {
            const style = getComputedStyle(el);
            const box = el.getBoundingClientRect();
            return {
              element: `${el.tagName.toLowerCase()}.${el.getAttribute('class') || ''}`,
              // (The root itself is an empty box wherever the host page's flow puts it; what
              // it holds is fixed to the screen.)
              box: el.classList.contains('tw-root') ? null : [box.x, box.y, box.width, box.height].map(Math.round),
              ...Object.fromEntries(properties.map((p) => [p, style.getPropertyValue(p)])),
            };
          });
        }, INHERITED);
        await screenshot(page, `host-css-${name}`);
        // Indonesian whatever the page's language (the hostile page is in English).
        assert.equal(await page.locator('.tw-root').getAttribute('lang'), 'id');
        assert.equal(await page.evaluate(() => document.querySelector('#tanya-widget').lang), 'id');
      });
    }
    assert.ok(looks.plain.length > 20, 'the widget was measured');
    assert.equal(looks.hostile.length, looks.plain.length);
    looks.plain.forEach((plain, i) => {
      assert.deepEqual(looks.hostile[i], plain, `${plain.element} looks the same on both pages`);
    });
    // And what it looks like is the widget's own choice, not the browser's defaults.
    const bubble = looks.plain.find((e) => e.element === 'div.tw-bubble');
    assert.equal(bubble['font-size'], '15px');
    assert.equal(bubble['text-transform'], 'none');
    assert.equal(bubble.direction, 'ltr');
  });
});

describe('where the launcher sits', () => {
  let tanya;
  let host;

  before(async () => {
    tanya = await startTanya();
    host = await startHost(tanya.url);
    host.page('/', hostPage());
    host.page('/left', hostPage({
      attributes: 'data-position="left" data-offset-x="40" data-offset-y="90" data-offset-y-mobile="72"',
    }));
    host.page('/nonsense', hostPage({
      attributes: 'data-position="middle" data-offset-x="abc" data-offset-y="-5" data-offset-x-mobile="1e9"',
    }));
    host.page('/own-button', hostPage({
      attributes: 'data-hide-launcher="true"',
      body: '<h1>Situs mitra</h1><button id="help" type="button">Bantuan</button>'
        + '<script>document.getElementById("help").onclick = () => window.TanyaWidget.toggle();</script>',
    }));
  });

  after(async () => {
    await host?.stop();
    await tanya?.stop();
  });

  test('data-position and data-offset-* place the launcher and the panel, on desktops and phones', TIMEOUT, async () => {
    const cases = [
      // [page, viewport, expected launcher box, expected panel box or null when full screen]
      ['/', DESKTOP, { left: 1280 - 24 - 60, top: 800 - 24 - 60 }, { right: 1280 - 24, bottom: 800 - 24 - 76 }],
      ['/left', DESKTOP, { left: 40, top: 800 - 90 - 60 }, { left: 40, bottom: 800 - 90 - 76 }],
      ['/left', PHONE, { left: 16, top: 740 - 72 - 60 }, null],
      ['/', PHONE, { left: 375 - 16 - 60, top: 740 - 16 - 60 }, null],
      ['/nonsense', DESKTOP, { left: 1280 - 24 - 60, top: 800 - 24 - 60 }, { right: 1280 - 24, bottom: 800 - 24 - 76 }],
      ['/nonsense', PHONE, { left: 375 - 16 - 60, top: 740 - 16 - 60 }, null],
    ];
    for (const [path, viewport, launcherBox, panelBox] of cases) {
      const name = `position${path.replace('/', '-')}-${viewport.width}`;
      await withBrowser(name, { viewport, mobile: viewport === PHONE }, async ({ page }) => {
        await page.goto(`${host.url}${path}`);
        const launcher = await page.locator('.tw-launcher').boundingBox();
        assert.deepEqual({ left: launcher.x, top: launcher.y }, launcherBox, `${name}: the launcher`);
        await screenshot(page, name);
        await openChat(page);
        await page.locator('.tw-panel').evaluate((el) => Promise.all(el.getAnimations().map((a) => a.finished)));
        const panel = await page.locator('.tw-panel').boundingBox();
        if (panelBox === null) {
          assert.deepEqual([panel.x, panel.y, panel.width, panel.height], [0, 0, viewport.width, viewport.height], `${name}: full screen`);
        } else {
          const box = { left: panel.x, right: panel.x + panel.width, bottom: panel.y + panel.height };
          for (const [side, value] of Object.entries(panelBox)) {
            assert.equal(box[side], value, `${name}: the panel's ${side}`);
          }
          assert.ok(panel.y >= 0, `${name}: the panel fits`);
        }
      });
    }
  });

  test("data-hide-launcher: the page's own button opens and closes the chat and gets the focus back", TIMEOUT, async () => {
    await withBrowser('own-button', { viewport: DESKTOP }, async ({ page, problems }) => {
      await page.goto(`${host.url}/own-button`);
      await page.locator('#tanya-widget').waitFor({ state: 'attached' });
      assert.equal(await page.locator('.tw-launcher').isVisible(), false, 'no launcher');
      const events = [];
      await page.exposeFunction('recordEvent', (name) => events.push(name));
      await page.evaluate(() => {
        for (const name of ['tanya:open', 'tanya:close']) {
          window.addEventListener(name, () => window.recordEvent(name));
        }
      });
      await page.locator('#help').focus();
      await page.keyboard.press('Enter');
      await input(page).waitFor({ state: 'visible' });
      assert.equal((await focused(page)).id, 'tw-input');
      await page.locator('.tw-panel').evaluate((el) => Promise.all(el.getAnimations().map((a) => a.finished)));
      const panel = await page.locator('.tw-panel').boundingBox();
      assert.equal(panel.y + panel.height, 800 - 24, 'the panel takes the launcher\'s place');
      await page.keyboard.press('Escape');
      assert.equal(await page.locator('.tw-panel').isVisible(), false);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'help', 'the focus is back on the page\'s button');
      assert.deepEqual(events, ['tanya:open', 'tanya:close']);
      assert.deepEqual(problems, []);
    });
  });
});

describe('the demo page on a phone', () => {
  let tanya;

  before(async () => {
    tanya = await startTanya();
  });

  after(async () => {
    await tanya?.stop();
  });

  test('the code from the demo inbox shows above the full-screen chat, and the flow finishes there', TIMEOUT, async () => {
    await withBrowser('demo-inbox-phone', { viewport: PHONE, mobile: true }, async ({ page, problems }) => {
      await page.goto(tanya.url);
      await page.locator('.tw-launcher').tap();
      await input(page).waitFor({ state: 'visible' });
      await say(page, 'saya lupa password jmo');
      await say(page, 'budi.santoso@example.com 12345678901');
      assert.equal(await lastBotKey(page), 'otp_sent');

      const strip = page.locator('#demo-strip');
      await strip.waitFor({ state: 'visible' });
      const code = (await strip.locator('.demo-strip-code').textContent()).trim();
      assert.equal(code, (await page.locator('#demo-inbox [data-code]').first().textContent()).trim());
      assert.match(await strip.textContent(), /E-mail ke b\*\*\*@example\.com/);
      // Above the chat, not behind it, and not made inert with the rest of the page.
      await page.locator('.tw-panel').evaluate((el) => Promise.all(el.getAnimations().map((a) => a.finished)));
      const stripBox = await strip.boundingBox();
      const panel = await page.locator('.tw-panel').boundingBox();
      assert.equal(stripBox.y, 0);
      assert.ok(panel.y >= stripBox.y + stripBox.height, `the chat starts below the strip: ${panel.y}`);
      assert.equal(panel.y + panel.height, PHONE.height);
      assert.equal(await strip.evaluate((el) => el.inert), false);
      assert.equal(await page.locator('main').evaluate((el) => el.inert), true);
      const onTop = await page.evaluate(() => {
        const el = document.querySelector('#demo-strip .demo-strip-code');
        const r = el.getBoundingClientRect();
        return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === el;
      });
      assert.ok(onTop, 'the code is not covered');
      await screenshot(page, 'demo-inbox-phone');

      await say(page, code);
      assert.equal(await lastBotKey(page), 'ask_new_password');
      await page.getByRole('button', { name: 'Tutup chat' }).tap();
      assert.equal(await strip.isVisible(), false, 'with the chat closed the inbox is in the page');
      assert.deepEqual(problems, []);
    });
  });

  test('on a desktop the strip never shows (the inbox is beside the chat)', TIMEOUT, async () => {
    await withBrowser('demo-inbox-desktop', { viewport: DESKTOP }, async ({ page }) => {
      await page.goto(tanya.url);
      await openChat(page);
      await say(page, 'saya lupa password jmo');
      await say(page, 'budi.santoso@example.com 12345678901');
      await page.locator('#demo-inbox [data-code]').first().waitFor({ state: 'visible' });
      assert.equal(await page.locator('#demo-strip').isVisible(), false);
    });
  });
});