// tanya's wildcard matching (src/convo/wildcard.rs), for `#me BUTTON x`: `*` is any text
// (line breaks included), the rest is literal and compared case-insensitively after trimming,
// and the pattern covers the whole text. Botium's own wildcards are neither anchored nor span
// lines, so a button pattern written for tanya would match differently there.
'use strict'

function escape (text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function wildcardMatch (pattern, text) {
  const trimmed = pattern.trim()
  if (trimmed === '') return true
  const body = trimmed.split('*').map(escape).join('[\\s\\S]*')
  return new RegExp(`^${body}$`, 'iu').test(text.trim())
}

module.exports = { wildcardMatch }
