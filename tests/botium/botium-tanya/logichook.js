// The global logic hook TANYA: what tanya's own runner does around every conversation.
// - onConvoBegin: `POST /api/v1/demo/reset`, so that one file's lockouts and spent limits do
//   not break the next (tanya's runner gives each file a fresh store instead).
// - onMeStart: drops the bot messages no `#bot` block matched (tanya's rule: a `#me` block
//   discards the previous turn's unmatched messages; Botium would keep them queued).
// - onMePrepare: `$otp`, `$otp_spaced` ("4 9 3 8 1 7"), `$otp_dashed` ("493-817") in a `#me`
//   text become the last code the demo outbox holds for this conversation's session.
'use strict'

const tanya = require('./tanya')

const CODE_VARIABLE = /\$otp(_spaced|_dashed)?\b/gi
const MENTIONS_CODE = /\$otp/i

function spell (code, variant) {
  switch ((variant || '').toLowerCase()) {
    case '_spaced': return code.split('').join(' ')
    case '_dashed': {
      const half = Math.ceil(code.length / 2)
      return `${code.slice(0, half)}-${code.slice(half)}`
    }
    default: return code
  }
}

module.exports = class TanyaLogicHook {
  constructor (context, caps = {}) {
    this.context = context
    this.caps = caps
  }

  async onConvoBegin ({ container }) {
    await tanya.reset(container.caps)
  }

  async onMeStart ({ container }) {
    // SimpleREST queues each message of an answer in its own `setTimeout(…, 0)`: the `#bot`
    // blocks may already have run on the first while the others are still due. One more
    // timer lets every message of the last answer arrive before the queue is emptied.
    await new Promise((resolve) => setTimeout(resolve, 0))
    container._EmptyQueue()
  }

  async onMePrepare ({ container, meMsg }) {
    const text = meMsg.messageText
    if (typeof text !== 'string' || !MENTIONS_CODE.test(text)) return
    const code = await tanya.lastCode(container.caps, tanya.sessionId(container))
    meMsg.messageText = text.replace(CODE_VARIABLE, (_, variant) => spell(code, variant))
  }
}
