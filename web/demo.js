/* The demo page's own script (kept in a file: the page's Content-Security-Policy allows no
 * inline script). It wires the page's buttons to the chat widget and, in demo mode, shows the
 * demo inbox: the SMS and e-mails "sent" to the member of the current chat session, read from
 * GET /api/v1/demo/outbox and refreshed on its own. Where the open chat covers the screen
 * (phones), the newest code also shows in a strip above the chat, which the widget leaves
 * room for (--tanya-inset-top) and usable (data-tanya-keep). All text is rendered as text. */
(function () {
  'use strict';

  var POLL_MS = 2000;
  var demo = document.body.dataset.mode === 'demo';
  var sessionId = null;
  var shown = '';
  var timer = null;
  var inFlight = false;

  document.addEventListener('click', function (event) {
    var target = event.target.closest('[data-chat-open], [data-chat-send]');
    if (!target || !window.TanyaWidget) {
      return;
    }
    if (target.hasAttribute('data-chat-send')) {
      window.TanyaWidget.send(target.getAttribute('data-chat-send'));
    } else {
      window.TanyaWidget.open();
    }
  });

  if (!demo) {
    return;
  }

  var list = document.getElementById('inbox-list');
  var empty = document.getElementById('inbox-empty');
  var toggle = document.getElementById('inbox-toggle');
  var inboxBody = document.getElementById('inbox-body');

  toggle.addEventListener('click', function () {
    var expanded = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(expanded));
    toggle.textContent = expanded ? 'Sembunyikan' : 'Tampilkan';
    inboxBody.hidden = !expanded;
  });
  var timeFormat = { hour: '2-digit', minute: '2-digit', second: '2-digit' };

  // The strip: a top-level element, so the full-screen chat can leave it out of its inert page.
  var strip = document.createElement('div');
  strip.className = 'demo-strip';
  strip.id = 'demo-strip';
  strip.setAttribute('data-tanya-keep', '');
  strip.setAttribute('role', 'status');
  strip.hidden = true;
  document.body.appendChild(strip);
  var newest = null;
  var chatOpen = false;
  // The widget's full-screen query (web/widget.js FULL_SCREEN).
  var fullScreen = window.matchMedia('(max-width: 480px), (max-height: 480px)');
  window.addEventListener('tanya:open', function () {
    chatOpen = true;
    updateStrip();
  });
  window.addEventListener('tanya:close', function () {
    chatOpen = false;
    updateStrip();
  });
  if (typeof fullScreen.addEventListener === 'function') {
    fullScreen.addEventListener('change', updateStrip);
  }

  window.addEventListener('tanya:session', function (event) {
    var next = event.detail && event.detail.sessionId;
    if (next !== sessionId) {
      sessionId = next || null;
      // During a conversation the inbox floats beside the chat (on wide screens).
      document.body.classList.toggle('inbox-docked', Boolean(sessionId));
      render([]);
      refresh();
    }
  });
  // A bot answer may have sent a code: look at once rather than at the next tick.
  window.addEventListener('tanya:message', refresh);
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) {
      refresh();
    }
  });
  schedule();

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      refresh();
      schedule();
    }, POLL_MS);
  }

  function refresh() {
    if (!sessionId || inFlight || document.hidden) {
      return;
    }
    inFlight = true;
    var asked = sessionId;
    fetch('/api/v1/demo/outbox?session_id=' + encodeURIComponent(asked))
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (body && asked === sessionId) {
          render(body.messages || []);
        }
      })
      .catch(function () {
        /* The next tick tries again; the chat itself reports a server that is down. */
      })
      .finally(function () {
        inFlight = false;
      });
  }

  function render(messages) {
    // Redraw only on change, so screen readers hear each new message once.
    var key = messages.map(function (m) { return m.at + ':' + m.code; }).join('|');
    if (key === shown) {
      return;
    }
    shown = key;
    var items = messages.slice().reverse().map(function (message, index) {
      return item(message, index === 0);
    });
    list.replaceChildren.apply(list, items);
    empty.hidden = messages.length > 0;
    newest = messages.length ? messages[messages.length - 1] : null;
    fillStrip();
  }

  /** The newest message's code, for the strip. */
  function fillStrip() {
    if (!newest) {
      strip.replaceChildren();
    } else {
      var channel = newest.channel === 'sms' ? 'SMS' : 'E-mail';
      var code = text('strong', 'demo-strip-code', newest.code);
      strip.replaceChildren(
        text('span', 'demo-strip-label', 'Kotak masuk demo · ' + channel + ' ke ' + newest.to),
        text('span', 'demo-strip-line', 'Kode: '),
        code
      );
    }
    updateStrip();
  }

  function updateStrip() {
    var shown = Boolean(newest) && chatOpen && fullScreen.matches;
    strip.hidden = !shown;
    document.body.classList.toggle('demo-strip-shown', shown);
  }

  /** One message, newest first; the code stands out so it is easy to type into the chat. */
  function item(message, newest) {
    var article = document.createElement('article');
    article.className = 'inbox-item' + (newest ? ' is-newest' : '');
    var channel = message.channel === 'sms' ? 'SMS' : 'E-mail';
    article.setAttribute('aria-label', channel + ' ke ' + message.to);

    var meta = document.createElement('p');
    meta.className = 'inbox-meta';
    var badge = text('span', 'badge badge-' + message.channel, channel);
    var to = text('span', 'inbox-to', 'ke ' + message.to);
    var time = document.createElement('time');
    var date = new Date(message.at);
    time.dateTime = date.toISOString();
    time.textContent = date.toLocaleTimeString('id-ID', timeFormat);
    meta.append(badge, to, time);

    var body = text('p', 'inbox-text', message.text);

    var codeLine = document.createElement('p');
    codeLine.className = 'inbox-code';
    var code = text('strong', 'code', message.code);
    code.setAttribute('data-code', '');
    codeLine.append(text('span', 'code-label', 'Kode'), code);
    if (navigator.clipboard && window.isSecureContext) {
      var copy = text('button', 'btn-copy', 'Salin');
      copy.type = 'button';
      copy.setAttribute('aria-label', 'Salin kode ' + message.code);
      copy.addEventListener('click', function () {
        navigator.clipboard.writeText(message.code).then(function () {
          copy.textContent = 'Tersalin';
          setTimeout(function () { copy.textContent = 'Salin'; }, 1500);
        }, function () { /* Clipboard refused: the code is on screen anyway. */ });
      });
      codeLine.appendChild(copy);
    }
    article.append(meta, body, codeLine);
    return article;
  }

  function text(tag, className, value) {
    var node = document.createElement(tag);
    node.className = className;
    node.textContent = value;
    return node;
  }
})();
