// SIMPLEREST_REQUEST_HOOK: Botium loads a hook module that exports one function.
'use strict'
module.exports = require('./hooks').requestHook
