// The asserters tanya's files use beyond Botium's built-in ones, with tanya's meaning
// (SPEC §10):
// - RESPONSE key: some message of the turn has this response key (`messages[].key`).
// - ENTITIES a|b: the NLU found each named valid entity in what the member sent (order and
//   other entities do not matter; without names: at least one; `!ENTITIES a|b`: none of
//   them). Botium's own ENTITIES demands the exact multiset.
// - BUTTONS a|b: the message's button titles are exactly these, in this order, each a tanya
//   wildcard pattern (without titles: at least one button). Botium's own BUTTONS only asks
//   that each title be among the buttons, and its `!BUTTONS a|*` fails on any button at all.
'use strict'

const { BotiumError } = require('botium-core')
const { wildcardMatch } = require('./wildcard')

function turnKeys (botMsg) {
  const messages = (botMsg.sourceData && botMsg.sourceData.messages) || []
  return messages.map((message) => message.key)
}

function entityNames (botMsg) {
  return ((botMsg.nlp && botMsg.nlp.entities) || []).map((entity) => entity.name)
}

function fail (convoStep, source, message, expected, actual) {
  return Promise.reject(new BotiumError(`${convoStep.stepTag}: ${message}`, {
    type: 'asserter',
    source,
    cause: { expected, actual }
  }))
}

class ResponseAsserter {
  constructor (context, caps = {}) {
    this.context = context
    this.caps = caps
    this.name = 'tanya RESPONSE key asserter'
  }

  assertConvoStep ({ convoStep, args, botMsg }) {
    const keys = turnKeys(botMsg)
    const missing = args.filter((key) => !keys.includes(key))
    if (args.length === 0) {
      return fail(convoStep, this.name, 'RESPONSE needs a response key', 'a key', keys)
    }
    if (missing.length === 0) return Promise.resolve()
    return fail(convoStep, this.name,
      `expected RESPONSE ${missing.join('|')}; the turn's keys are ${keys.join(', ') || 'none'}`,
      args, keys)
  }

  assertNotConvoStep ({ convoStep, args, botMsg }) {
    const keys = turnKeys(botMsg)
    const present = args.filter((key) => keys.includes(key))
    if (present.length === 0) return Promise.resolve()
    return fail(convoStep, this.name,
      `expected no RESPONSE ${present.join('|')}; the turn's keys are ${keys.join(', ')}`,
      args, keys)
  }
}

class EntitiesAsserter {
  constructor (context, caps = {}) {
    this.context = context
    this.caps = caps
    this.name = 'tanya ENTITIES asserter'
  }

  found (args, botMsg) {
    const names = entityNames(botMsg)
    return args.length === 0 ? names.length > 0 : args.every((name) => names.includes(name))
  }

  assertConvoStep ({ convoStep, args, botMsg }) {
    if (this.found(args, botMsg)) return Promise.resolve()
    const names = entityNames(botMsg)
    return fail(convoStep, this.name,
      `expected ENTITIES ${args.join('|') || '(any)'}; found ${names.join(', ') || 'none'}`,
      args, names)
  }

  assertNotConvoStep ({ convoStep, args, botMsg }) {
    const names = entityNames(botMsg)
    const none = args.length === 0 ? names.length === 0 : !args.some((name) => names.includes(name))
    if (none) return Promise.resolve()
    return fail(convoStep, this.name,
      `expected no ENTITIES ${args.join('|') || '(any)'}; found ${names.join(', ')}`,
      args, names)
  }
}

function buttonTitles (botMsg) {
  return (botMsg.buttons || []).map((button) => button.text)
}

class ButtonsAsserter {
  constructor (context, caps = {}) {
    this.context = context
    this.caps = caps
    this.name = 'tanya BUTTONS asserter'
  }

  holds (args, botMsg) {
    const titles = buttonTitles(botMsg)
    if (args.length === 0) return titles.length > 0
    return args.length === titles.length &&
      args.every((pattern, index) => wildcardMatch(pattern, titles[index]))
  }

  assertConvoStep ({ convoStep, args, botMsg }) {
    if (this.holds(args, botMsg)) return Promise.resolve()
    const titles = buttonTitles(botMsg)
    return fail(convoStep, this.name,
      `expected BUTTONS ${args.join(' | ') || '(at least one)'}; the message has ${titles.join(' | ') || 'none'}`,
      args, titles)
  }

  assertNotConvoStep ({ convoStep, args, botMsg }) {
    if (!this.holds(args, botMsg)) return Promise.resolve()
    const titles = buttonTitles(botMsg)
    return fail(convoStep, this.name,
      `expected not BUTTONS ${args.join(' | ') || '(any)'}; the message has ${titles.join(' | ')}`,
      args, titles)
  }
}

module.exports = { ResponseAsserter, EntitiesAsserter, ButtonsAsserter }
