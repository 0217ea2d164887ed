#!/usr/bin/env node
// Compares tanya's NLU with nlp.js (AXA's node-nlp) on the same training data and dev set.
//
//   cd benches/peers/nlpjs && npm ci && node compare.mjs [--json] [--reps N] [--train-runs N]
//
// nlp.js is trained on exactly the `examples` of every intents/<intent>.toml (out_of_scope
// included, as an ordinary intent, as tanya does), with the standard NlpManager set-up for
// Indonesian ('id'): forceNER false, autoSave false, default threshold (0.5). An answer of
// 'None' or a score under the threshold counts as out_of_scope. tanya's `patterns` and
// lexicon are NOT given to nlp.js: it has no equivalent of either in its standard set-up.
//
// tanya is scored by its own `target/release/tanya nlu eval tests/nlu/dev.jsonl --json`.
// Its CLI does not report timings, so they are measured from outside (see timeTanya()).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';

const require = createRequire(import.meta.url);
const { NlpManager } = require('node-nlp');

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..', '..');
// Both systems read one snapshot of intents/ and the dev set, taken at start-up (see main()),
// so that edits made while the benchmark runs cannot give them different data.
const SCRATCH = mkdtempSync(join(tmpdir(), 'tanya-peer-'));
const INTENTS_DIR = join(SCRATCH, 'intents');
const DEV_FILE = join(SCRATCH, 'dev.jsonl');
const TANYA_BIN = join(ROOT, 'target', 'release', 'tanya');
const OUT_OF_SCOPE = 'out_of_scope';
const LOCALE = 'id';

// ---------------------------------------------------------------------------------------------
// Command line

function parseArgs(argv) {
  const args = { json: false, reps: 10, tanyaReps: 50, trainRuns: 3, tanya: true };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const int = () => {
      const n = Number.parseInt(argv[(i += 1)], 10);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} needs a positive integer`);
      return n;
    };
    if (a === '--json') args.json = true;
    else if (a === '--reps') args.reps = int();
    else if (a === '--train-runs') args.trainRuns = int();
    else if (a === '--tanya-reps') args.tanyaReps = int();
    else if (a === '--no-tanya') args.tanya = false;
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: node compare.mjs [--json] [--reps N (default 10)] [--tanya-reps N (default 50)] [--train-runs N (default 3)] [--no-tanya]',
      );
      rmSync(SCRATCH, { recursive: true, force: true });
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

// ---------------------------------------------------------------------------------------------
// Data

/** intents/*.toml (not lexicon/ or responses/) → [{ intent, examples }], sorted by name. */
function loadIntents() {
  const files = readdirSync(INTENTS_DIR, { withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith('.toml'))
    .map((d) => d.name)
    .sort();
  const intents = [];
  for (const file of files) {
    const path = join(INTENTS_DIR, file);
    let doc;
    try {
      doc = parseToml(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`${path}: ${e.message}`);
    }
    const examples = doc.examples;
    if (!Array.isArray(examples) || examples.length === 0 || examples.some((x) => typeof x !== 'string')) {
      throw new Error(`${path}: expected a non-empty array of strings in \`examples\``);
    }
    intents.push({
      intent: file.slice(0, -'.toml'.length),
      examples,
      patterns: Array.isArray(doc.patterns) ? doc.patterns.length : 0,
    });
  }
  if (!intents.some((i) => i.intent === OUT_OF_SCOPE)) {
    throw new Error(`no ${OUT_OF_SCOPE}.toml in ${INTENTS_DIR}`);
  }
  return intents;
}

function loadDev() {
  const rows = [];
  readFileSync(DEV_FILE, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let row;
      try {
        row = JSON.parse(line);
      } catch (e) {
        throw new Error(`${DEV_FILE}:${i + 1}: ${e.message}`);
      }
      if (typeof row.text !== 'string' || typeof row.intent !== 'string') {
        throw new Error(`${DEV_FILE}:${i + 1}: needs string "text" and "intent"`);
      }
      rows.push({ text: row.text, intent: row.intent });
    });
  if (rows.length === 0) throw new Error(`${DEV_FILE} has no examples`);
  return rows;
}

/** sha256 of the training content and the dev set, so a result can be tied to its data. */
function fingerprint() {
  const h = createHash('sha256');
  for (const f of readdirSync(INTENTS_DIR).filter((f) => f.endsWith('.toml')).sort()) {
    h.update(f);
    h.update(readFileSync(join(INTENTS_DIR, f)));
  }
  return {
    intents_sha256: h.digest('hex').slice(0, 16),
    dev_sha256: createHash('sha256').update(readFileSync(DEV_FILE)).digest('hex').slice(0, 16),
  };
}

/** How many dev texts equal a training example (case- and space-insensitive): a leakage check. */
function overlap(intents, dev) {
  const norm = (s) => s.toLowerCase().replace(/\s+/g, ' ').trim();
  const train = new Set(intents.flatMap((i) => i.examples.map(norm)));
  return dev.filter((d) => train.has(norm(d.text))).length;
}

// ---------------------------------------------------------------------------------------------
// Scoring: the same definitions as tanya's src/nlu/eval.rs (labels = every expected or
// predicted intent; macro F1 averages the labels with support > 0).

function score(dev, predicted) {
  const confusion = new Map(); // "expected\u0000predicted" → count
  let correct = 0;
  const labels = new Set();
  dev.forEach((d, i) => {
    const p = predicted[i];
    labels.add(d.intent);
    labels.add(p);
    if (p === d.intent) correct += 1;
    const k = `${d.intent}\u0000${p}`;
    confusion.set(k, (confusion.get(k) || 0) + 1);
  });
  const intents = {};
  for (const label of [...labels].sort()) {
    let tp = 0;
    let pred = 0;
    let support = 0;
    for (const [k, n] of confusion) {
      const [e, p] = k.split('\u0000');
      if (e === label && p === label) tp += n;
      if (p === label) pred += n;
      if (e === label) support += n;
    }
    const precision = pred ? tp / pred : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    intents[label] = { precision, recall, f1, support };
  }
  const withSupport = Object.values(intents).filter((m) => m.support > 0);
  return {
    accuracy: correct / dev.length,
    oos_recall: intents[OUT_OF_SCOPE] ? intents[OUT_OF_SCOPE].recall : 0,
    macro_f1: withSupport.reduce((s, m) => s + m.f1, 0) / Math.max(1, withSupport.length),
    intents,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

// ---------------------------------------------------------------------------------------------
// nlp.js

function newManager() {
  return new NlpManager({
    languages: [LOCALE],
    forceNER: false,
    autoSave: false,
    autoLoad: false,
    nlu: { log: false },
  });
}

async function trainNlpjs(intents) {
  const manager = newManager();
  for (const { intent, examples } of intents) {
    for (const text of examples) manager.addDocument(LOCALE, text, intent);
  }
  const t0 = performance.now();
  await manager.train();
  const trainMs = performance.now() - t0;
  return { manager, trainMs };
}

async function runNlpjs(intents, dev, args) {
  const trainTimes = [];
  let manager;
  for (let r = 0; r < args.trainRuns; r += 1) {
    const trained = await trainNlpjs(intents);
    trainTimes.push(trained.trainMs);
    manager = trained.manager;
  }
  const threshold = manager.nlp.settings.threshold;

  const classify = (out) =>
    !out.intent || out.intent === 'None' || out.score < threshold ? OUT_OF_SCOPE : out.intent;

  // Warm-up pass (JIT, lazy stemmer tables), then timed passes; predictions from the first
  // timed pass, checked to be identical in every later pass.
  for (const d of dev) await manager.process(LOCALE, d.text);
  const latencies = [];
  let predicted = null;
  const errors = [];
  for (let r = 0; r < args.reps; r += 1) {
    const pass = [];
    for (const d of dev) {
      const t0 = performance.now();
      const out = await manager.process(LOCALE, d.text);
      latencies.push(performance.now() - t0);
      pass.push({ intent: classify(out), score: out.score, raw: out.intent });
    }
    if (predicted === null) predicted = pass;
    else if (pass.some((p, i) => p.intent !== predicted[i].intent)) {
      throw new Error('nlp.js gave different answers on a repeated pass');
    }
  }
  const metrics = score(
    dev,
    predicted.map((p) => p.intent),
  );
  dev.forEach((d, i) => {
    if (predicted[i].intent !== d.intent) {
      errors.push({
        text: d.text,
        expected: d.intent,
        predicted: predicted[i].intent,
        raw_intent: predicted[i].raw,
        score: Number(predicted[i].score.toFixed(4)),
      });
    }
  });
  return {
    ...metrics,
    threshold,
    train_ms: median(trainTimes),
    train_ms_runs: trainTimes.map((t) => Number(t.toFixed(1))),
    latency_median_ms: median(latencies),
    latency_mean_ms: mean(latencies),
    latency_p95_ms: [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.95)],
    latency_samples: latencies.length,
    errors,
  };
}

// ---------------------------------------------------------------------------------------------
// tanya

function tanyaVersion() {
  try {
    return execFileSync(TANYA_BIN, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function runTanya(dataDir, args) {
  const env = {
    ...process.env,
    // A private data dir: `nlu eval` builds the whole app (sled DB, server key), and must
    // neither touch ./data nor fight a running server for its lock.
    TANYA_DATA_DIR: dataDir,
    TANYA_INTENTS_DIR: INTENTS_DIR,
    TANYA_LOG: 'error',
  };
  const opts = { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 };
  const wall = (argv) => {
    const t0 = performance.now();
    const out = execFileSync(TANYA_BIN, argv, opts);
    return { ms: performance.now() - t0, out };
  };
  const evalOut = wall(['nlu', 'eval', DEV_FILE, '--json']).out;
  const report = JSON.parse(evalOut);
  return { report, wall };
}

/**
 * tanya's CLI reports no timings, so they are measured from outside, as medians of 5 runs
 * after a warm-up run (which also creates the sled DB and seeds the demo members):
 *   startup   = wall time of `tanya nlu eval` on a one-line file (process start, content
 *               load and validation, training, DB open, one parse);
 *   check     = wall time of `tanya check` (process start, content load and validation);
 *   train     ≈ startup − check (so it still includes the sled DB open: an upper bound);
 *   latency   ≈ (wall(eval on the dev set × tanya-reps) − startup) / (N × tanya-reps − 1): a MEAN per
 *               parse (normalise + rules + classifier + entity extraction); no median is
 *               observable from outside without changing tanya.
 */
function timeTanya(wall, dev, args, scratch) {
  const one = join(scratch, 'one.jsonl');
  const many = join(scratch, 'many.jsonl');
  const line = (d) => JSON.stringify({ text: d.text, intent: d.intent });
  writeFileSync(one, `${line(dev[0])}\n`);
  const manyLines = [];
  for (let r = 0; r < args.tanyaReps; r += 1) for (const d of dev) manyLines.push(line(d));
  writeFileSync(many, `${manyLines.join('\n')}\n`);

  const med = (argv, n = 5) => {
    wall(argv);
    const xs = [];
    for (let i = 0; i < n; i += 1) xs.push(wall(argv).ms);
    return median(xs);
  };
  const startup = med(['nlu', 'eval', one, '--json']);
  const check = med(['check']);
  const bulk = med(['nlu', 'eval', many, '--json']);
  const parses = dev.length * args.tanyaReps;
  return {
    startup_ms: startup,
    check_ms: check,
    train_ms: Math.max(0, startup - check),
    latency_mean_ms: Math.max(0, bulk - startup) / (parses - 1),
    latency_samples: parses,
  };
}

// ---------------------------------------------------------------------------------------------
// Output

const pct = (x) => (x == null ? '—' : `${(100 * x).toFixed(1)}%`);
const f3 = (x) => (x == null ? '—' : x.toFixed(3));
const ms = (x, d = 1) => (x == null ? '—' : `${x.toFixed(d)} ms`);

function printTable(result) {
  const { nlpjs, tanya, data } = result;
  const rows = [
    ['', 'tanya', 'nlp.js'],
    ['accuracy', pct(tanya?.accuracy), pct(nlpjs.accuracy)],
    ['out_of_scope recall', pct(tanya?.oos_recall), pct(nlpjs.oos_recall)],
    ['macro F1', f3(tanya?.macro_f1), f3(nlpjs.macro_f1)],
    ['train time', tanya ? `≈${ms(tanya.train_ms, 0)} (a)` : '—', ms(nlpjs.train_ms, 0)],
    ['median latency / utterance', tanya ? '— (b)' : '—', ms(nlpjs.latency_median_ms, 3)],
    ['mean latency / utterance', tanya ? `≈${ms(tanya.latency_mean_ms, 3)} (b)` : '—', ms(nlpjs.latency_mean_ms, 3)],
  ];
  const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
  const fmt = (r) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  console.log(`\nDev set: ${data.dev_examples} utterances, ${data.intents} intents, ` +
    `${data.training_examples} training examples (${data.dev_in_training} dev texts also appear verbatim in training)`);
  console.log(`intents ${data.intents_sha256}, dev ${data.dev_sha256}\n`);
  console.log(fmt(rows[0]));
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  rows.slice(1).forEach((r) => console.log(fmt(r)));
  if (tanya) {
    console.log(`\n(a) tanya: \`tanya nlu eval\` on one line (${ms(tanya.startup_ms, 0)}) minus \`tanya check\` ` +
      `(${ms(tanya.check_ms, 0)}); includes the sled DB open.`);
    console.log(`(b) tanya: mean over ${tanya.latency_samples} parses, from wall-clock differences; ` +
      'its CLI exposes no per-utterance timing, so no median.');
  } else {
    console.log(`\ntanya: not run (${result.tanya_skipped}).`);
  }
  console.log(`nlp.js: node-nlp ${result.versions['node-nlp']}, threshold ${nlpjs.threshold}, ` +
    `train = median of ${nlpjs.train_ms_runs.length} runs [${nlpjs.train_ms_runs.join(', ')}] ms, ` +
    `latency over ${nlpjs.latency_samples} process() calls (p95 ${ms(nlpjs.latency_p95_ms, 3)}).`);

  const names = [...new Set([...Object.keys(nlpjs.intents), ...Object.keys(tanya?.intents || {})])]
    .filter((n) => (nlpjs.intents[n]?.support || tanya?.intents?.[n]?.support || 0) > 0)
    .sort();
  console.log('\nPer-intent F1 (support)');
  const nw = Math.max(...names.map((n) => n.length));
  console.log(`  ${'intent'.padEnd(nw)}  tanya  nlp.js  support`);
  for (const n of names) {
    const t = tanya?.intents?.[n];
    const j = nlpjs.intents[n];
    console.log(`  ${n.padEnd(nw)}  ${t ? t.f1.toFixed(3) : '  —  '}  ${j ? j.f1.toFixed(3) : '  —  '}  ${(j || t).support}`);
  }
}

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(HERE, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2));
  cpSync(join(ROOT, 'intents'), INTENTS_DIR, { recursive: true });
  cpSync(join(ROOT, 'tests', 'nlu', 'dev.jsonl'), DEV_FILE);
  const intents = loadIntents();
  const dev = loadDev();
  const fp = fingerprint();
  const data = {
    intents: intents.length,
    training_examples: intents.reduce((s, i) => s + i.examples.length, 0),
    dev_examples: dev.length,
    dev_in_training: overlap(intents, dev),
    ...fp,
  };

  const nlpjs = await runNlpjs(intents, dev, args);

  let tanya = null;
  let tanyaSkipped = null;
  if (!args.tanya) tanyaSkipped = '--no-tanya';
  else if (!existsSync(TANYA_BIN)) tanyaSkipped = `${TANYA_BIN} not found: run cargo build --release`;
  else {
    const { report, wall } = runTanya(join(SCRATCH, 'data'), args);
    const timing = timeTanya(wall, dev, args, SCRATCH);
    tanya = {
      accuracy: report.accuracy,
      oos_recall: report.intents?.[OUT_OF_SCOPE]?.recall ?? 0,
      macro_f1: report.macro_f1,
      intents: report.intents,
      ...timing,
      errors: report.errors,
    };
  }

  const result = {
    versions: {
      node: process.version,
      'node-nlp': pkgVersion('node-nlp'),
      '@nlpjs/nlp': pkgVersion('@nlpjs/nlp'),
      '@nlpjs/lang-id': pkgVersion('@nlpjs/lang-id'),
      'smol-toml': pkgVersion('smol-toml'),
      tanya: tanya ? tanyaVersion() : null,
    },
    settings: { reps: args.reps, tanya_reps: args.tanyaReps, train_runs: args.trainRuns, locale: LOCALE },
    data,
    tanya,
    tanya_skipped: tanyaSkipped,
    nlpjs,
  };
  if (args.json) console.log(JSON.stringify(result, null, 2));
  else printTable(result);
}

main()
  .catch((e) => {
    console.error(`compare.mjs: ${e.stack || e}`);
    process.exitCode = 1;
  })
  .finally(() => rmSync(SCRATCH, { recursive: true, force: true }));
