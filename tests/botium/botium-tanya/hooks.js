// The SimpleREST hooks (botium.json: SIMPLEREST_REQUEST_HOOK, SIMPLEREST_RESPONSE_HOOK).
//
// Request: carries the session tanya issued on the first answer, and turns `#me BUTTON x`
// into the payload of the button of the last answer whose title or payload matches `x`
// (tanya's rule), because tanya's buttons are pressed by payload.
// Response: the turn's intent (tanya answers it once per turn) and the entities of what the
// member sent, read through `/api/v1/nlu/parse`, as Botium's `nlp` for INTENT and ENTITIES.
'use strict'

const tanya = require('./tanya')
const { wildcardMatch } = require('./wildcard')

/** The buttons of the last answer, in order. */
function offeredButtons (response) {
  const messages = (response && response.body && response.body.messages) || []
  return messages.flatMap((message) => message.buttons || [])
}

function pressedPayload (pattern, response) {
  const offered = offeredButtons(response)
  const button = offered.find((b) => wildcardMatch(pattern, b.title)) ||
    offered.find((b) => wildcardMatch(pattern, b.payload))
  if (!button) {
    const titles = offered.map((b) => `${b.title} (${b.payload})`).join(', ') || 'none'
    throw new Error(`BUTTON ${pattern}: no such button in the last answer; offered: ${titles}`)
  }
  return button.payload
}

function requestHook ({ requestOptions, context, msg, response }) {
  const body = requestOptions.body
  if (context.session_id) body.session_id = context.session_id
  if (msg.buttons && msg.buttons.length > 0) {
    delete body.text
    body.payload = pressedPayload(msg.buttons[0].payload, response)
  }
}

/** Entities per answer body: every message of one answer shares one parse. */
const entitiesOf = new WeakMap()

async function responseHook ({ botMsg, msg, container }) {
  const body = botMsg.sourceData
  const intent = body.intent
  botMsg.nlp = {
    intent: intent ? { name: intent.name, confidence: intent.confidence } : { name: 'None' }
  }
  const text = msg && msg.messageText
  if (!text || (msg.buttons && msg.buttons.length > 0)) {
    botMsg.nlp.entities = []
    return
  }
  if (!entitiesOf.has(body)) {
    entitiesOf.set(body, tanya.parse(container.caps, text).then((parse) => parse.entities))
  }
  const entities = await entitiesOf.get(body)
  // Recognized but invalid values (a 12-digit KPJ) carry a `problem`: tanya's ENTITIES counts
  // only valid ones.
  botMsg.nlp.entities = entities
    .filter((e) => !e.problem)
    .map((e) => ({ name: e.entity, value: e.value }))
}

module.exports = { requestHook, responseHook }
