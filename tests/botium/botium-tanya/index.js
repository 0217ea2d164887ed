// botium-tanya: the asserters and the logic hook that let real Botium (botium-core with the
// SimpleREST connector) run tanya's `.convo.txt` files against a live demo server. botium.json
// refers to them as `botium-tanya/RESPONSE`, `botium-tanya/ENTITIES`, `botium-tanya/BUTTONS`,
// `botium-tanya/TANYA`;
// the SimpleREST hooks are `botium-tanya/request-hook` and `botium-tanya/response-hook`.
'use strict'

const { ResponseAsserter, EntitiesAsserter, ButtonsAsserter } = require('./asserters')
const TanyaLogicHook = require('./logichook')

module.exports = {
  PluginAsserters: {
    RESPONSE: ResponseAsserter,
    ENTITIES: EntitiesAsserter,
    BUTTONS: ButtonsAsserter
  },
  PluginLogicHooks: {
    TANYA: TanyaLogicHook
  }
}
