#!/usr/bin/env node
// Runs tanya's conversation files with real Botium: botium-core, the SimpleREST connector and
// botium.json beside this file, against a live tanya server in demo mode.
//
//   node tests/botium/run.js --url http://127.0.0.1:8080/api/v1/chat tests/conversations
//
// Paths are `.convo.txt` files or directories (searched recursively); each file sees the
// utterance lists of its own directory. Files that use `WAIT` are not run (Botium cannot move
// tanya's clock; real sleeps of minutes would be needed) and are listed as `SKIP`. Prints a
// line per conversation (`PASS name` / `FAIL name: why`), then `N passed, M failed, K skipped`;
// exits 1 on any failure.
'use strict'

const fs = require('fs')
const path = require('path')
const { BotDriver } = require('botium-core')

/** A `#me` block line `WAIT 6m`: tanya moves its clock, Botium cannot. */
const USES_WAIT = /^\s*WAIT\s/m

function parseArgs (argv) {
  const args = { url: null, paths: [] }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--url') args.url = argv[++i]
    else args.paths.push(argv[i])
  }
  if (!args.url || args.paths.length === 0) {
    throw new Error('usage: run.js --url http://HOST:PORT/api/v1/chat PATH...')
  }
  return args
}

function convoFiles (target) {
  if (fs.statSync(target).isFile()) return [path.resolve(target)]
  return fs.readdirSync(target, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = path.resolve(target, entry.name)
      if (entry.isDirectory()) return convoFiles(full)
      return entry.name.endsWith('.convo.txt') ? [full] : []
    })
}

function utteranceFiles (dir) {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.utterances.txt')).sort()
}

async function runConvo (container, convo) {
  await container.Start()
  try {
    await convo.Run(container)
    return null
  } catch (err) {
    return (err.message || String(err)).split('\n')[0]
  } finally {
    await container.Stop()
  }
}

async function main () {
  // botium.json beside this file, wherever the command runs from (BOTIUM_CONFIG may override).
  process.env.BOTIUM_CONFIG = process.env.BOTIUM_CONFIG || path.join(__dirname, 'botium.json')
  const args = parseArgs(process.argv.slice(2))
  const files = args.paths.flatMap(convoFiles)
  const skipped = files.filter((file) => USES_WAIT.test(fs.readFileSync(file, 'utf8')))
  const runnable = files.filter((file) => !skipped.includes(file))

  const driver = new BotDriver({ SIMPLEREST_URL: args.url }, {}, {})
  const results = { passed: 0, failed: 0 }
  const container = await driver.Build()
  try {
    // One compiler per directory: utterance lists belong to their directory, as in tanya.
    const byDir = new Map()
    for (const file of runnable) {
      const dir = path.dirname(file)
      if (!byDir.has(dir)) byDir.set(dir, [])
      byDir.get(dir).push(path.basename(file))
    }
    for (const [dir, names] of byDir) {
      const compiler = driver.BuildCompiler()
      for (const name of utteranceFiles(dir)) compiler.ReadScript(dir, name)
      for (const name of names) compiler.ReadScript(dir, name)
      compiler.ExpandConvos()
      for (const convo of compiler.convos) {
        const failure = await runConvo(container, convo)
        const label = `${path.relative(process.cwd(), path.join(dir, convo.sourceTag.filename))}: ${convo.header.name}`
        if (failure) {
          results.failed++
          console.log(`FAIL ${label}: ${failure}`)
        } else {
          results.passed++
          console.log(`PASS ${label}`)
        }
      }
    }
  } finally {
    await container.Clean()
  }
  for (const file of skipped) {
    console.log(`SKIP ${path.relative(process.cwd(), file)}: uses WAIT`)
  }
  console.log(`${results.passed} passed, ${results.failed} failed, ${skipped.length} skipped`)
  process.exitCode = results.failed > 0 ? 1 : 0
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 2
})
