// Shared by the browser tests: start the real tanya binary on a free port with a fresh data
// directory, drive Debian's Chromium through playwright-core, and small helpers that read the
// widget (which lives in an open shadow root; Playwright's CSS locators pierce it).

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(E2E_DIR, '..', '..');
export const SCREENSHOTS = path.join(E2E_DIR, 'screenshots');
export const CHROMIUM = process.env.TANYA_E2E_CHROMIUM || '/usr/bin/chromium';

/** The machine has no internet: these flags stop Chromium from trying to reach Google. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

let binary = null;

/** The tanya binary: `TANYA_BIN` (set by `cargo test`), else a release build made once. */
export function tanyaBinary() {
  if (binary) {
    return binary;
  }
  if (process.env.TANYA_BIN) {
    binary = process.env.TANYA_BIN;
  } else {
    execFileSync('cargo', ['build', '--release', '--quiet', '--bin', 'tanya'], {
      cwd: REPO,
      stdio: 'inherit',
    });
    binary = path.join(REPO, 'target', 'release', 'tanya');
  }
  return binary;
}

/**
 * Runs `tanya serve` on 127.0.0.1:0 with a temporary data directory and the repository's
 * intents; resolves once it logs its address. `env` adds settings (TANYA_CORS_ORIGINS, …).
 */
export async function startTanya(env = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tanya-e2e-'));
  const childEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('TANYA_'))
  );
  Object.assign(childEnv, {
    TANYA_BIND: '127.0.0.1:0',
    TANYA_DATA_DIR: dataDir,
    TANYA_INTENTS_DIR: path.join(REPO, 'intents'),
    TANYA_MODE: 'demo',
    TANYA_LOG_FORMAT: 'json',
    TANYA_LOG: 'info',
    ...env,
  });
  const child = spawn(tanyaBinary(), ['serve'], {
    env: childEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tanya did not start within 60 s:\n${log}`));
    }, 60_000);
    let pending = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        const found = listeningAddress(line);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tanya exited with ${code} before listening:\n${log}`));
    });
  });
  return {
    url: `http://${address}`,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timeout = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timeout);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The address in tanya's "tanya is listening" log line (JSON, or human with colours). */
export function listeningAddress(line) {
  try {
    const entry = JSON.parse(line);
    if (entry.fields && entry.fields.message === 'tanya is listening') {
      return entry.fields.address;
    }
    return null;
  } catch {
    // eslint-disable-next-line no-control-regex
    const plain = line.replace(/\x1b\[[0-9;]*m/g, '');
    const match = /tanya is listening.*?address=(\S+)/.exec(plain);
    return match ? match[1] : null;
  }
}

/**
 * A "host site" on its own port: it serves the pages a test gives it (`page(path, html)`) and
 * passes every other request on to tanya (`target`), so the widget embedded in those pages
 * talks to tanya on the page's own origin. `hangChat(true)` makes it accept chat requests
 * (`POST /api/v1/chat`) and never answer them, like a server or proxy that has stalled;
 * `chatRequests` lists the bodies of every chat request it saw.
 */
export async function startHost(target) {
  const pages = new Map();
  const chatRequests = [];
  let hanging = false;
  const server = createServer((request, response) => {
    const url = new URL(request.url, 'http://host');
    if (request.method === 'GET' && pages.has(url.pathname)) {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      response.end(pages.get(url.pathname));
      return;
    }
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      if (request.method === 'POST' && url.pathname === '/api/v1/chat') {
        chatRequests.push(JSON.parse(body.toString('utf8')));
        if (hanging) {
          return; // Accepted, read, and never answered.
        }
      }
      const headers = { ...request.headers, host: new URL(target).host };
      const upstream = httpRequest(`${target}${request.url}`, { method: request.method, headers }, (answer) => {
        response.writeHead(answer.statusCode, answer.headers);
        answer.pipe(response);
      });
      upstream.on('error', () => response.destroy());
      upstream.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    chatRequests,
    page(pathname, html) {
      pages.set(pathname, html);
    },
    hangChat(value) {
      hanging = value;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A plain host page that embeds the widget with `attributes` on its script tag. */
export function hostPage({ attributes = '', head = '', body = '<h1>Situs mitra</h1><p>Isi halaman.</p>', lang = 'id' } = {}) {
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Situs mitra</title>${head}</head>
<body>${body}
<script src="/widget/widget.js" defer ${attributes}></script></body></html>`;
}

/**
 * A browser with a fresh, empty profile (its own user-data-dir) and one page; `close()` ends
 * the browser and deletes the profile. `javaScriptEnabled: false` browses as a member whose
 * browser runs no script (the password page must work so).
 */
export async function openBrowser({ viewport = DESKTOP, mobile = false, javaScriptEnabled = true } = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), 'tanya-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    deviceScaleFactor: mobile ? 2 : 1,
    isMobile: mobile,
    hasTouch: mobile,
    locale: 'id-ID',
    timezoneId: 'Asia/Jakarta',
    javaScriptEnabled,
  });
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 404/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  return {
    context,
    page,
    /** Uncaught errors and console errors seen so far (a CSP violation is one). */
    problems,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const TIMEOUT = { timeout: 120_000 };
// Not the example on the demo page, so finding it anywhere means it leaked.
export const PASSWORD = 'Kuat!Sandi77';

/** Runs `body` with a fresh browser; on failure, saves what the page looked like. */
export async function withBrowser(name, options, body) {
  const browser = await openBrowser(options);
  try {
    await body(browser);
  } catch (error) {
    await screenshot(browser.page, `FAILED-${name}`).catch(() => {});
    throw error;
  } finally {
    await browser.close();
  }
}

/**
 * WCAG 2.1 A and AA violations that axe-core finds in the page (the widget's shadow DOM
 * included), as `rule: targets` lines.
 */
export async function accessibilityViolations(page) {
  const source = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  // Injected through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(source);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return result.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.help} -> ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`
    );
  });
}

export async function screenshot(page, name, options = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), ...options });
}

// ---- reading and driving the widget ------------------------------------------------------

export const launcher = (page) => page.locator('.tw-launcher');
export const input = (page) => page.locator('#tw-input');
export const botRows = (page) => page.locator('.tw-row--bot');
export const userRows = (page) => page.locator('.tw-row--user');
export const replies = (page) => page.locator('.tw-reply');

export async function openChat(page) {
  await launcher(page).click();
  await input(page).waitFor({ state: 'visible' });
}

/** Presses ↺ (Percakapan baru) and answers its question with "Mulai baru". */
export async function startOver(page) {
  await page.getByRole('button', { name: 'Percakapan baru' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Mulai baru' }).click();
}

/** Number of bot messages in the log. */
export async function botCount(page) {
  return botRows(page).count();
}

/** Waits until the bot has answered after `before` bot messages and the widget is idle. */
export async function waitForReply(page, before) {
  await page.waitForFunction((n) => {
    const root = document.querySelector('#tanya-widget').shadowRoot;
    return (
      root.querySelectorAll('.tw-row--bot').length > n &&
      root.querySelector('.tw-typing').hidden
    );
  }, before);
}

/** Types `text` in the chat input, presses Enter, and waits for the answer. */
export async function say(page, text) {
  const before = await botCount(page);
  await input(page).fill(text);
  await input(page).press('Enter');
  await waitForReply(page, before);
}

/** The response keys of the bot messages, oldest first (the local greeting included). */
export async function botKeys(page) {
  return botRows(page).evaluateAll((rows) => rows.map((row) => row.dataset.key));
}

export async function lastBotKey(page) {
  const keys = await botKeys(page);
  return keys[keys.length - 1];
}

/** Every message as [from, text], as a reader sees it. */
export async function transcript(page) {
  return page.locator('.tw-row').evaluateAll((rows) =>
    rows.map((row) => [row.dataset.from, row.querySelector('.tw-bubble').textContent])
  );
}

/** The focused element, looking inside shadow roots. */
export async function focused(page) {
  return page.evaluate(() => {
    let active = document.activeElement;
    while (active && active.shadowRoot && active.shadowRoot.activeElement) {
      active = active.shadowRoot.activeElement;
    }
    if (!active) {
      return null;
    }
    const style = getComputedStyle(active);
    return {
      id: active.id,
      className: typeof active.className === 'string' ? active.className : '',
      label: active.getAttribute('aria-label') || active.textContent.trim(),
      payload: active.dataset ? active.dataset.payload : undefined,
      outline: `${style.outlineStyle} ${style.outlineWidth}`,
    };
  });
}

/** Presses Tab (or Shift+Tab) until `matches(focused)` holds; fails after `limit` presses. */
export async function tabTo(page, matches, { backwards = false, limit = 60 } = {}) {
  for (let i = 0; i < limit; i += 1) {
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    const now = await focused(page);
    if (now && matches(now)) {
      return now;
    }
  }
  throw new Error(`focus never reached the target after ${limit} presses of Tab`);
}

/** Waits until the log shows at least `n` messages (after a reload, from the history). */
export async function waitForRows(page, n) {
  await page.waitForFunction(
    (count) => document.querySelector('#tanya-widget').shadowRoot.querySelectorAll('.tw-row').length >= count,
    n
  );
}

/** How far the page scrolls sideways (0 = not at all). */
export async function horizontalOverflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** The password appears nowhere: not in the page, the widget, or the browser's storage. */
export async function assertPasswordNowhere(page) {
  const found = await page.evaluate((secret) => {
    const widget = document.querySelector('#tanya-widget').shadowRoot;
    const storage = JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage });
    const fields = [...widget.querySelectorAll('input')].map((i) => i.value).join('');
    return [document.body.innerText, widget.textContent, storage, fields].some((t) => t.includes(secret));
  }, PASSWORD);
  assert.equal(found, false, 'the password is shown or stored somewhere');
}
