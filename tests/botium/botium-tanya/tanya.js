// tanya's HTTP API as seen from Botium: where it lives (derived from SIMPLEREST_URL, the chat
// route), the session of a running conversation, its last answer, and the few calls the
// hooks make besides chatting.
'use strict'

const CHAT_PATH = '/api/v1/chat'

/** The server's base address, from the SimpleREST chat URL (`http://host:port/api/v1/chat`). */
function baseUrl (caps) {
  const chat = caps.SIMPLEREST_URL
  if (!chat || !chat.endsWith(CHAT_PATH)) {
    throw new Error(`botium-tanya: SIMPLEREST_URL must end with ${CHAT_PATH}, found ${chat}`)
  }
  return chat.slice(0, -CHAT_PATH.length)
}

/** The SimpleREST connector's view of the running conversation (context, last response). */
function view (container) {
  const plugin = container && container.pluginInstance
  if (!plugin || !plugin.view) {
    throw new Error('botium-tanya: needs the SIMPLEREST connector')
  }
  return plugin.view
}

/** The tanya session of the running conversation; `undefined` before its first answer. */
function sessionId (container) {
  return view(container).context.session_id
}

async function call (caps, method, path, body) {
  const response = await fetch(baseUrl(caps) + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  if (!response.ok) {
    throw new Error(`botium-tanya: ${method} ${path} answered ${response.status}: ${text}`)
  }
  return JSON.parse(text)
}

/** `POST /api/v1/demo/reset`: members' limits and lockouts forgotten (demo mode only). */
function reset (caps) {
  return call(caps, 'POST', '/api/v1/demo/reset', {})
}

/** The newest code the demo outbox holds for `session`. */
async function lastCode (caps, session) {
  if (!session) throw new Error('botium-tanya: $otp before the conversation has a session')
  const query = `?session_id=${encodeURIComponent(session)}`
  const { messages } = await call(caps, 'GET', `/api/v1/demo/outbox${query}`)
  const withCode = messages.filter((message) => message.code)
  if (withCode.length === 0) throw new Error('botium-tanya: $otp, but no code was sent yet')
  return withCode[withCode.length - 1].code
}

/** `POST /api/v1/nlu/parse`: the NLU's reading of a text (intent, ranking, entities). */
function parse (caps, text) {
  return call(caps, 'POST', '/api/v1/nlu/parse', { text })
}

module.exports = { sessionId, reset, lastCode, parse }
