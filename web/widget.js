/*! tanya web chat widget: plain JavaScript, no build step, served by tanya at /widget/widget.js.
 *
 * Embed on any page with one tag:
 *   <script src="https://CHAT.EXAMPLE/widget/widget.js" defer
 *           data-server="https://CHAT.EXAMPLE" data-title="Tanya Jessi"
 *           data-accent="#00703c" data-greeting="Halo! Ada yang bisa dibantu?"></script>
 *
 * Security: every text (the member's and the bot's) is put in the page with textContent or
 * createTextNode, never parsed as HTML, so a message like "<img onerror=…>" shows literally.
 * Passwords typed while the bot waits for one are shown as •••• and never stored here.
 */
(function () {
  'use strict';

  if (window.TanyaWidget) {
    return; // The tag was included twice: one widget is enough.
  }

  var script =
    document.currentScript || document.querySelector('script[src*="/widget/widget.js"]');
  if (!script) {
    return;
  }
  var options = script.dataset;
  var scriptUrl = new URL(script.src, window.location.href);

  var SERVER = (options.server || scriptUrl.origin).replace(/\/+$/, '');
  var ASSET_BASE = new URL('.', scriptUrl).href;
  var TITLE = options.title || 'Tanya Jessi';
  var BOT_NAME = options.botName || 'Jessi';
  var SUBTITLE = options.subtitle || 'Asisten virtual · 24 jam';
  var GREETING =
    options.greeting ||
    'Halo, Sahabat! Saya ' + BOT_NAME + ', asisten virtual. Ada yang bisa saya bantu hari ini?';
  /**
   * Suggestions under the greeting. Each is a button: `Title=/payload` sends the payload (what
   * the server's own buttons send, so no NLU guess is involved); a bare `Title` is sent as text.
   */
  var STARTERS =
    options.starters === undefined
      ? [
          { title: 'Lupa akun JMO', payload: '/forgot_account' },
          { title: 'Lupa password JMO', payload: '/forgot_password' },
          { title: 'Cek saldo JHT', payload: '/check_jht_balance' },
        ]
      : options.starters.split('|').map(parseStarter).filter(Boolean);
  var ACCENT = parseHexColor(options.accent) ? options.accent : '#00703c';
  // Where the launcher sits (Intercom's alignment and paddings, Zendesk's offset with its
  // mobile variant): a side, and its distance in px from that side and from the bottom, on
  // wider screens and on phones (up to 480 px wide), e.g. above a host's bottom bar.
  var POSITION = options.position === 'left' ? 'left' : 'right';
  var OFFSETS = {
    '--tw-offset-x': pixels(options.offsetX, 24),
    '--tw-offset-y': pixels(options.offsetY, 24),
    '--tw-offset-x-mobile': pixels(options.offsetXMobile, 16),
    '--tw-offset-y-mobile': pixels(options.offsetYMobile, 16),
  };
  /** The page brings its own button (TanyaWidget.open/toggle); no launcher is shown. */
  var HIDE_LAUNCHER = options.hideLauncher === 'true';

  /** How long a request may take before the widget gives up on it (data-timeout, seconds). */
  var TIMEOUT_MS = positiveNumber(options.timeout, 15) * 1000;

  var HIDDEN_PASSWORD = '••••';
  var MAX_CHARS = 2000;
  /**
   * What in a bot answer becomes a link, in one pass: web addresses, e-mail addresses,
   * telephone numbers (+62…, 0… with 9 to 13 digits, "(021) …"), and short service numbers
   * after "call center", "hotline", "telepon" or "hubungi" (175). Masked values
   * (b***@example.com, 0812****7890), KPJ and NIK numbers, codes and amounts stay text.
   * No lookbehind (older Safari cannot parse it): the character before a match is checked in
   * code.
   */
  var LINKS = new RegExp(
    [
      '(\\b(?:https?:\\/\\/|www\\.)[^\\s<>"\']+)',
      '([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,})',
      '(\\(0\\d{1,3}\\) ?\\d{3,4}[ -]?\\d{3,4}|(?:\\+62[ -]?|0)[1-9](?:[ .-]?\\d){7,11})',
      '(1\\d{2,6})',
    ].join('|'),
    'g'
  );
  var SHORT_NUMBER_BEFORE = /(?:call ?center|hotline|telepon|telp\.?|hubungi)\s+$/i;

  /** The typing indicator stays at least this long, so a fast answer does not flicker. */
  var MIN_TYPING_MS = 300;
  var STORAGE_KEY = 'tanya:' + SERVER;
  var OPEN_KEY = 'tanya:open:' + SERVER;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  /** Where the open chat covers the whole screen (the same queries as in widget.css). */
  var FULL_SCREEN = '(max-width: 480px), (max-height: 480px)';

  var ICONS = {
    chat: 'M21 11.5a8.38 8.38 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.38 8.38 0 0 1-3.8-.9L3 21l1.9-5.7a8.38 8.38 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.38 8.38 0 0 1 3.8-.9h.5a8.48 8.48 0 0 1 8 8v.5z',
    close: 'M18 6 6 18M6 6l12 12',
    send: 'M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z',
    restart: 'M1 4v6h6M3.51 15a9 9 0 1 0 2.13-9.36L1 10',
    alert: 'M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM12 8v4M12 16h.01',
    lock: 'M5 11h14v10H5zM8 11V7a4 4 0 0 1 8 0v4',
    eye: 'M1 12s4-8 11-8 11 8 11 8-4 8-11 8-11-8-11-8zM12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z',
    eyeOff: 'M17.94 17.94A10.07 10.07 0 0 1 12 20c-7 0-11-8-11-8a18.45 18.45 0 0 1 5.06-5.94M9.9 4.24A9.12 9.12 0 0 1 12 4c7 0 11 8 11 8a18.5 18.5 0 0 1-2.16 3.19M14.12 14.12a3 3 0 1 1-4.24-4.24M1 1l22 22',
  };

  var TEXT = {
    open: 'Buka chat ' + TITLE,
    close: 'Tutup chat',
    restart: 'Percakapan baru',
    confirmRestart: 'Mulai percakapan baru? Percakapan ini akan hilang dari layar.',
    confirmYes: 'Mulai baru',
    confirmNo: 'Batal',
    unread: function (n) { return n + ' pesan baru'; },
    log: 'Percakapan dengan ' + BOT_NAME,
    inputLabel: 'Ketik pesan',
    placeholder: 'Ketik pesan…',
    passwordLabel: 'Ketik password (disamarkan)',
    passwordPlaceholder: 'Ketik password…',
    passwordHint: 'Password disamarkan dan tidak disimpan di riwayat chat.',
    showPassword: 'Tampilkan password',
    send: 'Kirim pesan',
    replies: 'Pilihan balasan',
    you: 'Anda',
    typing: BOT_NAME + ' sedang mengetik…',
    hiddenPassword: 'Password (disamarkan)',
    retry: 'Coba lagi',
    offline: 'Perangkat Anda sedang offline. Periksa koneksi internet Anda, lalu coba lagi.',
    unreachable: 'Server tidak dapat dihubungi. Periksa koneksi internet Anda, lalu coba lagi.',
    timedOut: 'Server tidak menjawab. Silakan coba lagi sebentar lagi.',
    serverError:
      'Server kami sedang mengalami gangguan (bukan masalah koneksi Anda). Silakan coba lagi sebentar lagi.',
    rateLimited: 'Terlalu banyak pesan dalam waktu singkat. Tunggu sebentar, lalu coba lagi.',
    rateLimitedFor: function (seconds) {
      return 'Terlalu banyak pesan dalam waktu singkat. Tunggu ' + seconds + ' detik, lalu coba lagi.';
    },
    tooLong: 'Pesan terlalu panjang (maksimal ' + MAX_CHARS + ' karakter).',
    pasteTooLong: function (n) {
      return 'Teks tidak ditempel: ' + number(n) + ' karakter, padahal maksimal ' +
        number(MAX_CHARS) + '. Persingkat dulu, lalu tempel lagi.';
    },
    typedTooLong: function (n) {
      return 'Pesan terlalu panjang: ' + number(n) + ' karakter, maksimal ' + number(MAX_CHARS) +
        '. Persingkat dulu sebelum dikirim.';
    },
    failed: 'Maaf, terjadi gangguan. Silakan coba lagi.',
    historyFailed: 'Riwayat percakapan tidak dapat dimuat.',
    footer: 'Jangan bagikan kode OTP atau password ke siapa pun.',
  };

  // ---- state -------------------------------------------------------------------------------
  var stored = readStored();
  var sessionId = stored.id || null;
  var dialogState = stored.state || 'idle';
  /**
   * Changes with every answered turn (the turn's client_message_id) and is kept beside the
   * session id in localStorage: a change made by another tab of this site (a `storage` event)
   * tells this one to catch up with the server (see followOtherTab).
   */
  var turn = stored.turn || null;
  /** Another tab moved the conversation on while this one was waiting for an answer. */
  var behind = false;
  /** What the next message is, as the server said (`expects`: text, code or password). */
  var expects = 'text';
  var passwordMode = false;
  /**
   * The last message that failed to send, with its client_message_id: sent again (by the
   * retry button, or typed again), it keeps its id, so a message the server did process
   * while its answer was lost is answered again instead of processed twice.
   */
  var unsent = null;
  var busy = false;
  /** Requests on their way (see startRequest), so "Percakapan baru" can drop them. */
  var inflight = [];
  /** The page's top-level elements this widget made inert while it covers the screen. */
  var madeInert = [];
  var pageWatcher = null;
  /** What had the focus before the chat opened (given back on close without a launcher). */
  var opener = null;
  /** Bot messages that arrived while the chat was closed. */
  var unread = 0;
  /** Buttons of the latest bot turn, put back if sending the next message fails. */
  var lastButtons = [];
  var lastRowFrom = null;

  // ---- DOM ---------------------------------------------------------------------------------
  var host = document.createElement('div');
  host.id = 'tanya-widget';
  // The shadow root keeps the page's selectors out, but not inheritance: whatever the page
  // sets on html, body or every div (font, line-height, text-transform, letter-spacing, …)
  // would flow from the host element into the widget. An inline !important `all: initial`
  // beats any rule of the page, even an !important one; widget.css then sets every inherited
  // property the widget relies on, on its root.
  host.style.setProperty('all', 'initial', 'important');
  var colors = accentColors(ACCENT);
  host.style.setProperty('--tw-accent', ACCENT);
  host.style.setProperty('--tw-on-accent', colors.onAccent);
  host.style.setProperty('--tw-accent-ink', colors.ink);
  Object.keys(OFFSETS).forEach(function (name) {
    host.style.setProperty(name, OFFSETS[name] + 'px');
  });
  var shadow = host.attachShadow({ mode: 'open' });

  var stylesheet = document.createElement('link');
  stylesheet.rel = 'stylesheet';
  stylesheet.href = ASSET_BASE + 'widget.css';

  var root = el('div', 'tw-root tw-' + POSITION + (HIDE_LAUNCHER ? ' tw-no-launcher' : ''));
  // The widget speaks Indonesian whatever the page's language (screen readers pick the voice
  // by it), and left to right whatever the page's direction.
  root.lang = 'id';
  root.dir = 'ltr';
  host.lang = 'id';
  // Hidden until the stylesheet is in, so the page never shows the unstyled widget.
  root.style.display = 'none';
  var reveal = function () { root.style.display = ''; };
  stylesheet.addEventListener('load', reveal);
  stylesheet.addEventListener('error', reveal);

  var panel = el('section', 'tw-panel');
  panel.id = 'tw-panel';
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', TITLE);
  panel.hidden = true;

  var header = el('header', 'tw-header');
  var avatar = el('div', 'tw-avatar', BOT_NAME.charAt(0).toUpperCase());
  avatar.setAttribute('aria-hidden', 'true');
  var heading = el('div', 'tw-heading');
  var titleEl = el('h2', 'tw-title', TITLE);
  titleEl.id = 'tw-title';
  var subtitleEl = el('p', 'tw-subtitle', SUBTITLE);
  heading.append(titleEl, subtitleEl);
  var restartButton = iconButton('tw-icon-button tw-restart', ICONS.restart, TEXT.restart);
  var closeButton = iconButton('tw-icon-button tw-close', ICONS.close, TEXT.close);
  header.append(avatar, heading, restartButton, closeButton);

  var log = el('div', 'tw-log');
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  log.setAttribute('aria-relevant', 'additions');
  log.setAttribute('aria-label', TEXT.log);
  // Focusable so that keyboard users can scroll the conversation.
  log.tabIndex = 0;

  // The typing indicator lives at the end of the log; messages are inserted before it.
  var typing = el('div', 'tw-typing');
  typing.hidden = true;
  var dots = el('span', 'tw-dots');
  dots.setAttribute('aria-hidden', 'true');
  dots.append(el('span'), el('span'), el('span'));
  typing.append(dots, el('span', 'tw-sr', TEXT.typing));
  typing.setAttribute('role', 'status');
  log.appendChild(typing);

  var errorBox = el('div', 'tw-error');
  errorBox.setAttribute('role', 'alert');
  errorBox.hidden = true;
  var errorText = el('p', 'tw-error-text');
  var retryButton = el('button', 'tw-retry', TEXT.retry);
  retryButton.type = 'button';
  errorBox.append(icon(ICONS.alert), errorText, retryButton);

  var form = el('form', 'tw-composer');
  form.noValidate = true;
  var label = el('label', 'tw-sr', TEXT.inputLabel);
  label.htmlFor = 'tw-input';
  var input = document.createElement('input');
  input.id = 'tw-input';
  input.className = 'tw-input';
  input.type = 'text';
  input.autocomplete = 'off';
  // No maxlength: it would cut a long paste silently. Too long is refused with a message
  // (see checkLength).
  input.placeholder = TEXT.placeholder;
  input.setAttribute('enterkeyhint', 'send');
  var sendButton = iconButton('tw-send', ICONS.send, TEXT.send);
  sendButton.type = 'submit';
  sendButton.disabled = true;
  // Show/hide for the new password (typed blind otherwise). A toggle button: its name stays,
  // aria-pressed says whether the password is shown.
  var revealButton = iconButton('tw-reveal', ICONS.eye, TEXT.showPassword);
  revealButton.appendChild(icon(ICONS.eyeOff, 'tw-reveal-off'));
  revealButton.setAttribute('aria-pressed', 'false');
  revealButton.setAttribute('aria-controls', 'tw-input');
  revealButton.hidden = true;
  form.append(label, input, revealButton, sendButton);

  var limitBox = el('p', 'tw-limit');
  limitBox.id = 'tw-limit';
  limitBox.setAttribute('role', 'alert');
  limitBox.hidden = true;

  var hint = el('p', 'tw-hint');
  hint.id = 'tw-hint';
  hint.hidden = true;
  hint.append(icon(ICONS.lock), document.createTextNode(TEXT.passwordHint));

  var footer = el('p', 'tw-footer', TEXT.footer);
  // On short screens (zoomed in, a phone held sideways) the footer's warning would take
  // height from the conversation; there the CSS shows this copy at the top of the log
  // instead, which scrolls away (one of the two is displayed, so it is read once).
  var notice = el('p', 'tw-notice', TEXT.footer);

  // "Percakapan baru" asks first: the conversation cannot be brought back.
  var confirmBox = el('div', 'tw-confirm');
  confirmBox.setAttribute('role', 'alertdialog');
  confirmBox.setAttribute('aria-labelledby', 'tw-confirm-text');
  confirmBox.hidden = true;
  var confirmText = el('p', 'tw-confirm-text', TEXT.confirmRestart);
  confirmText.id = 'tw-confirm-text';
  var confirmYes = el('button', 'tw-confirm-yes', TEXT.confirmYes);
  confirmYes.type = 'button';
  var confirmNo = el('button', 'tw-confirm-no', TEXT.confirmNo);
  confirmNo.type = 'button';
  var confirmActions = el('div', 'tw-confirm-actions');
  confirmActions.append(confirmYes, confirmNo);
  confirmBox.append(confirmText, confirmActions);

  panel.append(header, confirmBox, log, errorBox, form, limitBox, hint, footer);

  var launcher = el('button', 'tw-launcher');
  launcher.type = 'button';
  launcher.setAttribute('aria-controls', 'tw-panel');
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-label', TEXT.open);
  // Answers that arrived while the chat was closed; the number is in the launcher's name.
  var badge = el('span', 'tw-badge');
  badge.setAttribute('aria-hidden', 'true');
  badge.hidden = true;
  launcher.append(
    icon(ICONS.chat, 'tw-launcher-open'),
    icon(ICONS.close, 'tw-launcher-close'),
    badge
  );

  root.append(panel, launcher);
  shadow.append(stylesheet, root);

  // ---- events ------------------------------------------------------------------------------
  launcher.addEventListener('click', function () {
    if (panel.hidden) {
      open();
    } else {
      close(true);
    }
  });
  closeButton.addEventListener('click', function () { close(true); });
  restartButton.addEventListener('click', askNewConversation);
  confirmYes.addEventListener('click', function () {
    newConversation();
  });
  confirmNo.addEventListener('click', function () {
    hideConfirm();
    restartButton.focus();
  });
  confirmBox.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') {
      event.stopPropagation(); // Escape answers the question; it does not close the chat.
      hideConfirm();
      restartButton.focus();
    }
  });
  panel.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') {
      event.stopPropagation();
      close(true);
    } else if (event.key === 'Tab' && panel.getAttribute('aria-modal') === 'true') {
      keepFocusInside(event);
    }
  });
  input.addEventListener('input', function () {
    checkLength(null);
    updateSendButton();
  });
  input.addEventListener('paste', function (event) {
    var pasted = event.clipboardData ? event.clipboardData.getData('text') : '';
    // A one-line field drops the line breaks of what is pasted.
    pasted = pasted.replace(/[\r\n]/g, '');
    var start = input.selectionStart === null ? input.value.length : input.selectionStart;
    var end = input.selectionEnd === null ? input.value.length : input.selectionEnd;
    var after = charCount(input.value.slice(0, start) + pasted + input.value.slice(end));
    if (after > MAX_CHARS) {
      event.preventDefault();
      checkLength(after);
    }
  });
  revealButton.addEventListener('click', function () {
    setPasswordShown(revealButton.getAttribute('aria-pressed') !== 'true');
  });
  // A tap or click keeps the focus (and a phone's keyboard) in the field; the keyboard's
  // Space and Enter still work on the focused button.
  revealButton.addEventListener('pointerdown', function (event) { event.preventDefault(); });
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var raw = input.value;
    if (busy || raw.trim() === '' || tooLong()) {
      return; // An empty message cannot be sent, nor one over the limit.
    }
    var secret = passwordMode;
    // A password goes as typed; other text without surrounding blanks.
    var text = secret ? raw : raw.trim();
    input.value = '';
    setPasswordShown(false);
    checkLength(null);
    updateSendButton();
    var again = unsent && unsent.text === text ? unsent.id : undefined;
    send(
      { text: text, id: again },
      { shown: secret ? HIDDEN_PASSWORD : text, secret: secret, typed: raw }
    );
  });

  // ---- public API, for the page that embeds the widget --------------------------------------
  window.TanyaWidget = {
    open: function () { open(); },
    close: function () { close(false); },
    toggle: function () {
      if (panel.hidden) {
        open();
      } else {
        close(false);
      }
    },
    newConversation: newConversation,
    /** Opens the chat and sends `text` as if typed. */
    send: function (text) {
      open();
      if (typeof text === 'string' && text.trim() !== '' && !busy) {
        send({ text: text.trim() }, { shown: text.trim(), secret: false, typed: '' });
      }
    },
    sessionId: function () { return sessionId; },
  };

  if (document.body) {
    start();
  } else {
    document.addEventListener('DOMContentLoaded', start);
  }

  function start() {
    document.body.appendChild(host);
    window.addEventListener('storage', followOtherTab);
    if (window.matchMedia) {
      var media = window.matchMedia(FULL_SCREEN);
      if (typeof media.addEventListener === 'function') {
        media.addEventListener('change', updateModal);
      }
    }
    restore(); // First: it reads what localStorage says the field should be.
    announceSession();
    if (options.open === 'true' || readOpenFlag()) {
      open({ focus: false });
    }
  }

  // ---- opening and closing -----------------------------------------------------------------
  function open(opts) {
    var focus = !opts || opts.focus !== false;
    var wasClosed = panel.hidden;
    if (wasClosed) {
      opener = document.activeElement !== host ? document.activeElement : null;
    }
    panel.hidden = false;
    root.classList.add('is-open');
    launcher.setAttribute('aria-expanded', 'true');
    launcher.setAttribute('aria-label', TEXT.close);
    setUnread(0);
    writeOpenFlag(true);
    updateModal();
    scrollToEnd();
    if (focus) {
      input.focus({ preventScroll: true });
    }
    if (wasClosed) {
      window.dispatchEvent(new CustomEvent('tanya:open'));
    }
  }

  function close(returnFocus) {
    var wasOpen = !panel.hidden;
    panel.hidden = true;
    root.classList.remove('is-open');
    launcher.setAttribute('aria-expanded', 'false');
    hideConfirm();
    setUnread(0);
    writeOpenFlag(false);
    updateModal();
    if (returnFocus) {
      if (!HIDE_LAUNCHER) {
        launcher.focus();
      } else if (opener && opener.isConnected && typeof opener.focus === 'function') {
        opener.focus(); // The page's own button that opened the chat.
      }
    }
    if (wasOpen) {
      window.dispatchEvent(new CustomEvent('tanya:close'));
    }
  }

  /** The launcher's badge and name say how many answers came while the chat was closed. */
  function setUnread(count) {
    var changed = count !== unread;
    unread = count;
    badge.hidden = count === 0;
    badge.textContent = count > 99 ? '99+' : String(count);
    if (panel.hidden) {
      launcher.setAttribute('aria-label', count ? TEXT.open + ', ' + TEXT.unread(count) : TEXT.open);
    }
    if (changed) {
      window.dispatchEvent(new CustomEvent('tanya:unread', { detail: { count: count } }));
    }
  }

  /**
   * While the open chat covers the whole screen (phones, short screens), it is a modal
   * dialog: the page's other top-level elements are inert, so neither Tab nor a screen
   * reader's cursor walks into the page hidden behind it. Closing, or a screen that grows
   * (a phone turned), gives the page back exactly as it was.
   */
  function updateModal() {
    var media = window.matchMedia ? window.matchMedia(FULL_SCREEN) : null;
    var modal = !panel.hidden && Boolean(media && media.matches);
    if (modal) {
      panel.setAttribute('aria-modal', 'true');
      Array.prototype.forEach.call(document.body.children, makeInert);
      if (!pageWatcher && typeof MutationObserver === 'function') {
        // What the page adds meanwhile (a cookie banner, a toast) stays behind as well.
        pageWatcher = new MutationObserver(function (changes) {
          changes.forEach(function (change) {
            Array.prototype.forEach.call(change.addedNodes, makeInert);
          });
        });
        pageWatcher.observe(document.body, { childList: true });
      }
    } else {
      panel.removeAttribute('aria-modal');
      if (pageWatcher) {
        pageWatcher.disconnect();
        pageWatcher = null;
      }
      madeInert.forEach(function (element) { element.inert = false; });
      madeInert = [];
    }
  }

  function makeInert(element) {
    // Only elements; not the widget; not what the page made inert itself (left as it is);
    // not what the page keeps usable beside the chat (data-tanya-keep: a bar the chat leaves
    // room for with --tanya-inset-top, such as the demo page's code strip).
    if (
      element.nodeType !== 1 ||
      element === host ||
      element.inert ||
      element.hasAttribute('data-tanya-keep')
    ) {
      return;
    }
    element.inert = true;
    madeInert.push(element);
  }

  /** Tab from the last control goes to the first, Shift+Tab from the first to the last. */
  function keepFocusInside(event) {
    var controls = Array.prototype.filter.call(
      panel.querySelectorAll('button, input, a[href], [tabindex="0"]'),
      function (c) { return !c.disabled && c.getClientRects().length > 0; }
    );
    if (!controls.length) {
      return;
    }
    var first = controls[0];
    var last = controls[controls.length - 1];
    var active = shadow.activeElement;
    if (event.shiftKey && (active === first || controls.indexOf(active) < 0)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || controls.indexOf(active) < 0)) {
      event.preventDefault();
      first.focus();
    }
  }

  // ---- conversation ------------------------------------------------------------------------
  /** Shows the greeting, then the stored conversation (if any) from the server. */
  function restore() {
    dropRequests('history');
    clearError();
    log.replaceChildren(notice, typing);
    lastRowFrom = null;
    renderGreeting(sessionId ? null : STARTERS);
    if (!sessionId) {
      applyState('idle', 'text');
      return;
    }
    // Until the history comes, the field is what the server last said (kept beside the
    // session id): a member who types at once after a reload, or in a second tab, types a
    // password into a masked field.
    var known = readStored();
    if (known.id === sessionId && /^(text|code|password)$/.test(known.expects || '')) {
      applyState(dialogState, known.expects);
    }
    log.setAttribute('aria-busy', 'true');
    var request = startRequest(
      'history',
      SERVER + '/api/v1/chat/' + encodeURIComponent(sessionId) + '/history',
      { credentials: 'omit' },
      function (response) {
        if (response.status === 404) {
          return null; // Expired or unknown: start afresh.
        }
        if (!response.ok) {
          return apiError(response).then(function (error) { throw error; });
        }
        return response.json();
      }
    );
    request.result
      .then(function (history) {
        if (request.dropped) {
          return;
        }
        if (!history) {
          forgetSession();
          restore();
          return;
        }
        var messages = history.messages || [];
        messages.forEach(function (message) { addMessage(starterShown(message)); });
        // Only the latest bot turn keeps its buttons: older ones are answered.
        var lastUser = -1;
        messages.forEach(function (m, i) { if (m.from === 'user') { lastUser = i; } });
        var buttons = [];
        messages.slice(lastUser + 1).forEach(function (m) {
          buttons = buttons.concat(m.buttons || []);
        });
        renderReplies(buttons);
        // The server knows the state the next message meets (an expired flow is idle).
        applyState(history.state || dialogState, history.expects || 'text');
        scrollToEnd();
      })
      .catch(function (error) {
        if (!request.dropped) {
          showError(messageFor(error, TEXT.historyFailed), function () { restore(); });
        }
      })
      .finally(function () {
        if (!request.dropped) {
          log.removeAttribute('aria-busy');
        }
        finishRequest(request);
      });
  }

  function renderGreeting(starters) {
    addMessage({ from: 'bot', text: GREETING, at: null, key: 'widget_greeting' });
    if (starters && starters.length) {
      renderReplies(starters);
    }
  }

  /** The ↺ button: asks before starting over, unless there is nothing to lose. */
  function askNewConversation() {
    if (!sessionId) {
      newConversation();
      return;
    }
    confirmBox.hidden = false;
    confirmNo.focus();
  }

  function hideConfirm() {
    confirmBox.hidden = true;
  }

  /** Starts over; never blocked: a request still on its way is dropped and its answer ignored. */
  function newConversation() {
    hideConfirm();
    dropRequests();
    setBusy(false);
    unsent = null;
    forgetSession();
    input.value = '';
    restore();
    open();
  }

  /**
   * Sends one turn. `request` is {text} or {payload}; `display` says what the member's bubble
   * shows. On failure the bubble goes, the typed text returns to the input, and the error
   * offers to retry the same request.
   */
  function send(request, display) {
    if (busy) {
      return;
    }
    clearError();
    // One id per message, kept by every retry of it.
    request.id = request.id || newMessageId();
    var buttonsBefore = lastButtons;
    removeReplies();
    var bubble = addMessage(
      { from: 'user', text: display.shown, at: Date.now(), secret: display.secret },
      { pending: true }
    );
    scrollToEnd();
    setBusy(true);
    var body = { session_id: sessionId || undefined, client_message_id: request.id };
    if (request.payload !== undefined) {
      body.payload = request.payload;
    } else {
      body.text = request.text;
    }
    var pendingRequest = startRequest(
      'send',
      SERVER + '/api/v1/chat',
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        credentials: 'omit',
      },
      function (response) {
        if (!response.ok) {
          return apiError(response).then(function (error) { throw error; });
        }
        return response.json();
      }
    );
    Promise.all([pendingRequest.result, delay(MIN_TYPING_MS)])
      .then(function (results) {
        if (pendingRequest.dropped) {
          return; // "Percakapan baru" was pressed meanwhile: this answer belongs to the old one.
        }
        finishRequest(pendingRequest);
        var reply = results[0];
        unsent = null;
        turn = request.id;
        bubble.classList.remove('is-pending');
        if (reply.session_id && reply.session_id !== sessionId) {
          sessionId = reply.session_id;
          announceSession();
        }
        var firstNew = null;
        var buttons = [];
        (reply.messages || []).forEach(function (message) {
          var row = addMessage({
            from: 'bot',
            text: message.text,
            key: message.key,
            at: Date.now(),
          });
          firstNew = firstNew || row;
          buttons = buttons.concat(message.buttons || []);
        });
        if (panel.hidden) {
          setUnread(unread + (reply.messages || []).length);
        }
        renderReplies(buttons);
        applyState(reply.state || 'idle', reply.expects || 'text');
        setBusy(false);
        revealReply(firstNew);
        catchUp();
        window.dispatchEvent(
          new CustomEvent('tanya:message', {
            detail: {
              sessionId: sessionId,
              state: dialogState,
              keys: (reply.messages || []).map(function (m) { return m.key; }),
            },
          })
        );
      })
      .catch(function (error) {
        if (pendingRequest.dropped) {
          return;
        }
        finishRequest(pendingRequest);
        unsent = { text: request.text, id: request.id };
        bubble.remove();
        var rows = log.querySelectorAll('.tw-row');
        lastRowFrom = rows.length ? rows[rows.length - 1].dataset.from : null;
        renderReplies(buttonsBefore);
        setBusy(false);
        catchUp();
        // Nothing typed is lost: the text goes back to the input unless something else is there.
        if (display.typed && input.value === '') {
          input.value = display.typed;
          updateSendButton();
        }
        showError(messageFor(error, TEXT.failed), function () {
          if (display.typed && input.value === display.typed) {
            input.value = '';
            updateSendButton();
          }
          send(request, display);
        });
      });
  }

  /**
   * fetch with the widget's time limit: `read` turns the response into the result, and
   * `result` rejects with a `timeout` error when the whole exchange (headers and body) has not
   * finished within TIMEOUT_MS, so a request that never answers cannot leave the typing dots
   * forever. It stays in `inflight` until finishRequest.
   */
  function startRequest(kind, url, init, read) {
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    if (controller) {
      init.signal = controller.signal;
    }
    var request = { kind: kind, dropped: false, controller: controller, timer: null };
    request.result = new Promise(function (resolve, reject) {
      request.timer = setTimeout(function () {
        var timeout = new Error('timeout');
        timeout.kind = 'timeout';
        reject(timeout); // Settles first: the abort's own rejection below is ignored.
        if (controller) {
          controller.abort();
        }
      }, TIMEOUT_MS);
      fetch(url, init).then(read).then(resolve, reject);
    });
    inflight.push(request);
    return request;
  }

  function finishRequest(request) {
    clearTimeout(request.timer);
    inflight = inflight.filter(function (r) { return r !== request; });
  }

  /** Forgets the requests on their way (of one kind, or all): their outcome changes nothing. */
  function dropRequests(kind) {
    inflight.forEach(function (request) {
      if (!kind || request.kind === kind) {
        request.dropped = true;
        finishRequest(request);
        if (request.controller) {
          request.controller.abort();
        }
      }
    });
  }

  function setBusy(value) {
    busy = value;
    typing.hidden = !value;
    if (value) {
      scrollToEnd();
    }
    updateSendButton();
    shadow.querySelectorAll('.tw-reply').forEach(function (b) { b.disabled = value; });
  }

  function updateSendButton() {
    sendButton.disabled = busy || input.value.trim() === '' || tooLong();
  }

  function tooLong() {
    return charCount(input.value) > MAX_CHARS;
  }

  /**
   * Says when the message is over the server's limit (SPEC §6: 2000 characters), instead of
   * cutting it: `refusedPaste` is the length a paste would have made (the paste was not let
   * in), null to check what is in the field.
   */
  function checkLength(refusedPaste) {
    var count = charCount(input.value);
    if (refusedPaste !== null) {
      limitBox.textContent = TEXT.pasteTooLong(refusedPaste);
    } else if (count > MAX_CHARS) {
      limitBox.textContent = TEXT.typedTooLong(count);
    } else {
      limitBox.textContent = '';
    }
    limitBox.hidden = limitBox.textContent === '';
    if (count > MAX_CHARS) {
      input.setAttribute('aria-invalid', 'true');
    } else {
      input.removeAttribute('aria-invalid');
    }
    describeInput();
  }

  /** The field's description: the password hint and the length message, when shown. */
  function describeInput() {
    var ids = [];
    if (passwordMode) {
      ids.push(hint.id);
    }
    if (!limitBox.hidden) {
      ids.push(limitBox.id);
    }
    if (ids.length) {
      input.setAttribute('aria-describedby', ids.join(' '));
    } else {
      input.removeAttribute('aria-describedby');
    }
  }

  /** Characters as the server counts them (Unicode scalar values, not UTF-16 units). */
  function charCount(text) {
    return Array.from(text).length;
  }

  /** A client_message_id: random, unique per message (SPEC §7). */
  function newMessageId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) { return (b + 256).toString(16).slice(1); })
      .join('');
  }

  /** Sets the input field for what the server expects next; never from state names. */
  function applyState(state, next) {
    dialogState = state;
    if (next !== expects) {
      expects = next;
      // Codes and passwords are typed exactly: no capital first letter, no autocorrection.
      if (next === 'text') {
        input.removeAttribute('autocapitalize');
        input.removeAttribute('autocorrect');
      } else {
        input.setAttribute('autocapitalize', 'off');
        input.setAttribute('autocorrect', 'off');
      }
      // A code: the numeric keypad and the one-time-code autofill of the SMS.
      if (next === 'code') {
        input.setAttribute('inputmode', 'numeric');
        input.autocomplete = 'one-time-code';
      } else {
        input.removeAttribute('inputmode');
        input.autocomplete = next === 'password' ? 'new-password' : 'off';
      }
    }
    var expectsPassword = next === 'password';
    if (expectsPassword !== passwordMode) {
      passwordMode = expectsPassword;
      if (!expectsPassword && input.value !== '') {
        // A password half-typed in this tab must not turn into visible text because the
        // conversation moved on (in another tab): it goes.
        input.value = '';
        updateSendButton();
      }
      input.type = expectsPassword ? 'password' : 'text';
      revealButton.hidden = !expectsPassword;
      revealButton.setAttribute('aria-pressed', 'false');
      input.placeholder = expectsPassword ? TEXT.passwordPlaceholder : TEXT.placeholder;
      label.textContent = expectsPassword ? TEXT.passwordLabel : TEXT.inputLabel;
      input.spellcheck = !expectsPassword;
      hint.hidden = !expectsPassword;
      describeInput();
    }
    saveStored();
  }

  /** Shows the password being typed as text, or masks it again (only in a password step). */
  function setPasswordShown(shown) {
    var visible = shown && passwordMode;
    revealButton.setAttribute('aria-pressed', String(visible));
    if (passwordMode) {
      input.type = visible ? 'text' : 'password';
    }
  }

  // ---- rendering ---------------------------------------------------------------------------
  /** Appends one message row; returns it. Text is set as text, never as HTML. */
  function addMessage(message, opts) {
    var from = message.from === 'user' ? 'user' : 'bot';
    var row = el('div', 'tw-row tw-row--' + from);
    row.dataset.from = from;
    if (message.key) {
      row.dataset.key = message.key;
    }
    if (lastRowFrom !== from) {
      row.classList.add('is-first');
    }
    lastRowFrom = from;
    if (opts && opts.pending) {
      row.classList.add('is-pending');
    }
    var who = el('span', 'tw-sr', (from === 'user' ? TEXT.you : BOT_NAME) + ': ');
    var bubble = el('div', 'tw-bubble');
    var secret = message.secret || (from === 'user' && message.text === HIDDEN_PASSWORD);
    if (secret) {
      bubble.classList.add('tw-bubble--secret');
      var dotsText = el('span', null, HIDDEN_PASSWORD);
      dotsText.setAttribute('aria-hidden', 'true');
      bubble.append(dotsText, el('span', 'tw-sr', TEXT.hiddenPassword));
    } else if (from === 'bot') {
      appendLinkified(bubble, String(message.text || ''));
    } else {
      bubble.textContent = String(message.text || '');
    }
    row.append(who, bubble);
    if (message.at) {
      var time = document.createElement('time');
      time.className = 'tw-time';
      var date = new Date(message.at);
      time.dateTime = date.toISOString();
      time.title = fullDate(date);
      time.textContent = shortDate(date);
      row.appendChild(time);
    }
    log.insertBefore(row, typing);
    return row;
  }

  /** Quick replies under the latest bot turn: server buttons ({title, payload}) or starters. */
  function renderReplies(buttons) {
    removeReplies();
    lastButtons = buttons || [];
    if (!lastButtons.length) {
      return;
    }
    var group = el('div', 'tw-replies');
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', TEXT.replies);
    lastButtons.forEach(function (button) {
      var b = el('button', 'tw-reply', button.title);
      b.type = 'button';
      if (button.payload !== undefined) {
        b.dataset.payload = button.payload;
      }
      b.disabled = busy;
      b.addEventListener('click', function () {
        if (button.payload !== undefined) {
          send({ payload: button.payload }, { shown: button.title, secret: false, typed: '' });
        } else {
          send({ text: button.text }, { shown: button.text, secret: false, typed: '' });
        }
        input.focus({ preventScroll: true });
      });
      group.appendChild(b);
    });
    log.insertBefore(group, typing);
  }

  function removeReplies() {
    shadow.querySelectorAll('.tw-replies').forEach(function (g) { g.remove(); });
  }

  /** Bot text with links (see LINKS), built node by node: nothing is parsed as HTML. */
  function appendLinkified(parent, text) {
    var last = 0;
    var match;
    LINKS.lastIndex = 0;
    while ((match = LINKS.exec(text)) !== null) {
      var link = linkFor(match, text);
      if (!link) {
        LINKS.lastIndex = match.index + 1;
        continue;
      }
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(link.node);
      last = match.index + link.length;
      LINKS.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  /** The link for one match of LINKS, with the length it covers; null when it is no link. */
  function linkFor(match, text) {
    var before = text.charAt(match.index - 1);
    var after = text.charAt(match.index + match[0].length);
    var link = document.createElement('a');
    if (match[1]) {
      var url = match[1].replace(/[.,;:!?)]+$/, '');
      link.href = /^https?:\/\//i.test(url) ? url : 'https://' + url;
      link.textContent = url;
      link.target = '_blank';
      link.rel = 'noopener noreferrer nofollow';
      return { node: link, length: url.length };
    }
    if (match[2]) {
      if (/[*]/.test(after)) {
        return null;
      }
      link.href = 'mailto:' + match[2];
      link.textContent = match[2];
      return { node: link, length: match[2].length };
    }
    // A number glued to letters, digits or a mask is part of something else (KPJ*****01).
    if (/[\w*+@./-]/.test(before) || /[\w*@]/.test(after)) {
      return null;
    }
    if (match[4] && !SHORT_NUMBER_BEFORE.test(text.slice(Math.max(0, match.index - 20), match.index))) {
      return null;
    }
    var number = match[3] || match[4];
    link.href = 'tel:' + number.replace(/[^\d+]/g, '');
    link.textContent = number;
    return { node: link, length: number.length };
  }

  function showError(message, retry) {
    errorText.textContent = message;
    errorBox.hidden = false;
    retryButton.onclick = function () {
      clearError();
      retry();
    };
  }

  function clearError() {
    errorBox.hidden = true;
    errorText.textContent = '';
    retryButton.onclick = null;
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  /** Shows a new reply: the end of the log, or its start when the reply is taller than the log. */
  function revealReply(firstRow) {
    scrollToEnd();
    if (firstRow && log.scrollHeight - firstRow.offsetTop > log.clientHeight) {
      log.scrollTop = Math.max(0, firstRow.offsetTop - 12);
    }
  }

  // ---- server errors -----------------------------------------------------------------------
  function apiError(response) {
    return response
      .json()
      .catch(function () { return {}; })
      .then(function (body) {
        var error = new Error('HTTP ' + response.status);
        error.status = response.status;
        error.code = body && body.error && body.error.code;
        // Seconds to wait (429); readable from another origin because tanya exposes it.
        var wait = parseInt(response.headers.get('Retry-After') || '', 10);
        error.retryAfter = wait > 0 ? wait : null;
        return error;
      });
  }

  /**
   * What went wrong, in the member's words: their connection (offline, refused, blocked), a
   * server that does not answer, a server at fault (5xx), or too many messages (429). Only
   * the first is "check your internet".
   */
  function messageFor(error, fallback) {
    if (error && error.kind === 'timeout') {
      return TEXT.timedOut;
    }
    if (!error || error.status === undefined) {
      // fetch itself failed: offline, refused, blocked by CORS.
      return navigator.onLine === false ? TEXT.offline : TEXT.unreachable;
    }
    if (error.status === 429) {
      return error.retryAfter ? TEXT.rateLimitedFor(error.retryAfter) : TEXT.rateLimited;
    }
    if (error.status >= 500) {
      return TEXT.serverError;
    }
    if (error.status === 413 || (error.status === 400 && error.code === 'payload_too_large')) {
      return TEXT.tooLong;
    }
    return fallback;
  }

  // ---- session storage ---------------------------------------------------------------------
  function readStored() {
    try {
      var value = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || '{}');
      return value && typeof value === 'object' ? value : {};
    } catch (e) {
      return {}; // Storage disabled or corrupt: a new conversation.
    }
  }

  function saveStored() {
    try {
      if (sessionId) {
        // Only the server-issued id, the state name, what the next message is (expects) and
        // the last turn's random id: never message text.
        window.localStorage.setItem(
          STORAGE_KEY,
          JSON.stringify({ id: sessionId, state: dialogState, turn: turn, expects: expects })
        );
      } else {
        window.localStorage.removeItem(STORAGE_KEY);
      }
    } catch (e) {
      /* Storage unavailable: the conversation lasts as long as the page. */
    }
  }

  function forgetSession() {
    sessionId = null;
    dialogState = 'idle';
    turn = null;
    saveStored();
    announceSession();
  }

  function announceSession() {
    saveStored();
    window.dispatchEvent(new CustomEvent('tanya:session', { detail: { sessionId: sessionId } }));
  }

  /**
   * Two tabs of one site share the session (localStorage): when another tab has sent a
   * message or started over, this one shows the conversation as the server now has it, with
   * the input the server expects (a masked field when it waits for a password).
   */
  function followOtherTab(event) {
    if (event.key !== STORAGE_KEY && event.key !== null) {
      return;
    }
    var now = readStored();
    if ((now.id || null) === sessionId && (now.turn || null) === turn) {
      return; // Our own write, or nothing new.
    }
    if (busy) {
      behind = true; // Our answer comes first; then the history (catchUp).
      return;
    }
    sessionId = now.id || null;
    dialogState = now.state || 'idle';
    turn = now.turn || null;
    unsent = null;
    window.dispatchEvent(new CustomEvent('tanya:session', { detail: { sessionId: sessionId } }));
    restore();
  }

  /** After a turn of ours, shows what another tab did meanwhile. */
  function catchUp() {
    if (behind) {
      behind = false;
      followOtherTab({ key: STORAGE_KEY });
    }
  }

  function readOpenFlag() {
    try {
      return window.sessionStorage.getItem(OPEN_KEY) === '1';
    } catch (e) {
      return false;
    }
  }

  function writeOpenFlag(isOpen) {
    try {
      window.sessionStorage.setItem(OPEN_KEY, isOpen ? '1' : '0');
    } catch (e) {
      /* Not remembered across reloads: fine. */
    }
  }

  // ---- helpers -----------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  function icon(path, className) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'tw-icon' + (className ? ' ' + className : ''));
    var p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', path);
    svg.appendChild(p);
    return svg;
  }

  function iconButton(className, path, labelText) {
    var button = el('button', className);
    button.type = 'button';
    button.setAttribute('aria-label', labelText);
    button.title = labelText;
    button.appendChild(icon(path));
    return button;
  }

  /** A distance in px from a data attribute: 0 to 2000, else the default. */
  function pixels(value, fallback) {
    var number = Number(value);
    return value !== undefined && value !== '' && number >= 0 && number <= 2000 ? number : fallback;
  }

  /**
   * A starter's payload comes back in the history as sent (no server button carried it): the
   * member sees the starter's title, as when it was pressed.
   */
  function starterShown(message) {
    if (message.from !== 'user') {
      return message;
    }
    var starter = STARTERS.filter(function (s) { return s.payload === message.text; })[0];
    return starter ? { from: message.from, text: starter.title, at: message.at } : message;
  }

  /** `Title=/payload` → a payload button; `Title` → a button that sends its title as text. */
  function parseStarter(entry) {
    var trimmed = entry.trim();
    if (!trimmed) {
      return null;
    }
    var m = /^(.+?)\s*=\s*(\/\S+)$/.exec(trimmed);
    return m ? { title: m[1], payload: m[2] } : { title: trimmed, text: trimmed };
  }

  /** 2345 → "2.345", as Indonesian writes it. */
  function number(n) {
    return n.toLocaleString('id-ID');
  }

  function positiveNumber(value, fallback) {
    var number = Number(value);
    return value !== undefined && value !== '' && number > 0 ? number : fallback;
  }

  function delay(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function shortDate(date) {
    var time = date.toLocaleTimeString('id-ID', { hour: '2-digit', minute: '2-digit' });
    if (date.toDateString() === new Date().toDateString()) {
      return time;
    }
    return date.toLocaleDateString('id-ID', { day: 'numeric', month: 'short' }) + ' ' + time;
  }

  function fullDate(date) {
    return date.toLocaleString('id-ID', { dateStyle: 'full', timeStyle: 'short' });
  }

  function parseHexColor(value) {
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value || '');
    if (!m) {
      return null;
    }
    var hex = m[1].length === 3 ? m[1].replace(/./g, '$&$&') : m[1];
    return [0, 2, 4].map(function (i) { return parseInt(hex.slice(i, i + 2), 16); });
  }

  /** Text colours that keep WCAG AA contrast with any accent the embedding page picks. */
  function accentColors(accent) {
    var rgb = parseHexColor(accent);
    var white = contrast(rgb, [255, 255, 255]);
    var dark = contrast(rgb, [17, 24, 39]);
    return {
      onAccent: white >= dark ? '#ffffff' : '#111827',
      ink: white >= 4.5 ? accent : '#1f2937',
    };
  }

  function contrast(a, b) {
    var la = luminance(a);
    var lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
})();
