// Hardening of fits and scan requests (issue 16): event weights that leave nothing to fit or cannot be a
// likelihood (item 3), requests too large for the memory or time they would take (item 7), parameter-keyed request
// fields that name no parameter, and the fit budgets and tolerances the warnings name (item 8).
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type FlowModel, MixtureLikelihood, Rng, type ScanRequest, formatEventsCsv, runScan, validateScanRequest } from '@flowscan/runtime';
import { loadModel, readEventsCsvFile } from '@flowscan/runtime/node';
import requestSchema from '../schemas/scan-request.schema.json' with { type: 'json' };
import * as toy from '../trainer/src/data/toy.ts';
import { flowscan } from './helpers/commands.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-hardening-fit-');
const MODELS = join(import.meta.dirname, '..', 'models');
const N_SIGNAL = 100;
const N_BACKGROUND = 1900;
let models: Record<string, FlowModel>;
let x: Float64Array;

test.before(async () => {
  models = {
    signal: await loadModel(join(MODELS, 'toy-signal'), { ep: 'cpu', threads: 1 }),
    background: await loadModel(join(MODELS, 'toy-background'), { ep: 'cpu', threads: 1 }),
  };
  x = toy.pseudoData(new Rng(16), { nSignal: N_SIGNAL, nBackground: N_BACKGROUND }).x;
});

function request(extra: Partial<ScanRequest> = {}): ScanRequest {
  const f = N_SIGNAL / (N_SIGNAL + N_BACKGROUND);
  return validateScanRequest(
    {
      events: { file: 'in memory' },
      components: [
        { name: 'signal', model: 'toy-signal', fraction: f },
        { name: 'background', model: 'toy-background', fraction: 1 - f },
      ],
      ...extra,
    },
    'test request',
  );
}

function scan(r: ScanRequest, more: Partial<Parameters<typeof runScan>[0]> = {}) {
  return runScan({ request: r, models, events: { x }, executionProvider: 'cpu', flowscanVersion: 'test', ...more });
}

function mixture(weights: ArrayLike<number>): MixtureLikelihood {
  return new MixtureLikelihood({
    components: [
      { name: 'signal', model: models.signal, fraction: 0.05 },
      { name: 'background', model: models.background, fraction: 0.95 },
    ],
    events: { x },
    weights,
    yields: 'fixed-fractions',
  });
}

// ---- item 3: event weights ----

test('item 3: all-zero weights are refused (the NLL would be 0 everywhere), negative ones name the event', (t) => {
  t.throws(() => mixture(new Float64Array(x.length)), { message: /every event weight is 0 \(2000 events\): the likelihood is flat/ });
  const weights = new Float64Array(x.length).fill(1);
  weights[41] = -0.5;
  t.throws(() => mixture(weights), { message: /event 42 has weight -0\.5: event weights must be finite and ≥ 0/ });
  weights[41] = 0;
  t.notThrows(() => mixture(weights), 'some zero weights are fine');
});

test('item 3: a negative weight in a CSV file is refused by file and line (comments, blank and skipped rows counted)', async (t) => {
  const path = join(folder(), 'weighted.csv');
  // Line 1 comment, 2 header, 3–4 events, 5 blank, 6 a bad row (skipped), 7 event, 8 the negative weight.
  await writeFile(path, '# weighted events\nx,w\n91,1\n92,0.5\n\n93,abc\n94,2\n95,-1\n96,1\n');
  await t.throwsAsync(readEventsCsvFile(path, { columns: ['x', 'w'], skipBadRows: true, weights: 'w' }), {
    message: `${path} line 8: event 4 has weight -1 in column "w": event weights must be ≥ 0 (negative weights are not supported; drop or merge those events)`,
  });
  const zeros = join(folder(), 'zero-weights.csv');
  await writeFile(zeros, 'x,w\n91,0\n92,0\n');
  await t.throwsAsync(readEventsCsvFile(zeros, { columns: ['x', 'w'], weights: 'w' }), { message: new RegExp(`^${zeros}: every weight in column "w" is 0 \\(2 events\\)`) });
  const parsed = await readEventsCsvFile(path.replace('weighted', 'fine'), { columns: ['x'] }).catch(() => null);
  t.is(parsed, null, 'a missing file still fails as before');
});

test('item 3: flowscan scan names the events file and line of a negative weight', async (t) => {
  const events = join(folder(), 'scan-events.csv');
  const w = Float64Array.from(x, (_, i) => (i === 9 ? -2 : 1));
  await writeFile(events, formatEventsCsv({ x, w }, ['x', 'w']));
  const path = join(folder(), 'negative-request.json');
  await writeFile(path, JSON.stringify({ ...request(), events: { file: events, weights: 'w' }, components: request().components.map((c) => ({ ...c, model: join(MODELS, c.model as string) })) }));
  const result = await flowscan(['scan', '--request', path, '--out', join(folder(), 'never.json'), '--ep', 'cpu']);
  t.not(result.code, 0);
  t.regex(result.stderr, new RegExp(`${events} line 11: event 10 has weight -2 in column "w"`));
});

// ---- item 8: parameter names and fit settings ----

test('item 8: a start, rename or map axis that names no parameter is refused before any evaluation', async (t) => {
  let evaluated = false;
  const onProgress = () => {
    evaluated = true;
  };
  await t.throwsAsync(scan(request({ start: { mpole: 90 } }), { onProgress }), { message: /start value for unknown parameter "mpole": the likelihood's parameters are m_pole, gamma, tau/ });
  const renamed = request();
  renamed.components[0].rename = { Gamma: 'gamma_s' };
  await t.throwsAsync(scan(renamed, { onProgress }), { message: /component "signal" renames "Gamma", which is not a parameter of model toy-signal \(m_pole, gamma\)/ });
  await t.throwsAsync(scan(request({ maps: [{ x: 'm_pole', y: 'gama' }] }), { onProgress }), { message: /map m_pole × gama: gama is not a free parameter/ });
  t.false(evaluated, 'every request was refused before the fit started');
});

test('item 8: fit budget and tolerances come from the request; the warning names options the schema and the CLI accept', async (t) => {
  const rows: number[] = [];
  const result = await scan(request({ globalSearch: false, starts: 1, start: { m_pole: 80, gamma: 4, tau: 0.02 }, maxEvaluations: 2, gtol: 1e-6, ftolAbs: 1e-9, maps: [{ x: 'm_pole', y: 'gamma', nx: 3, ny: 4 }] }), {
    onMapRow: (_, done, total) => {
      t.is(total, 4);
      rows.push(done);
    },
  });
  t.deepEqual(rows, [1, 2, 3, 4], 'item 7: the map reports progress row by row');
  const warning = result.fit.warnings.find((w) => w.startsWith('the minimiser stopped without converging'));
  t.truthy(warning);
  t.regex(warning!, /maxEvaluations = 2 per start, gtol = 0\.000001, ftolAbs = 1e-9/);
  const properties = Object.keys(requestSchema.properties);
  const named = [...warning!.matchAll(/\b(maxEvaluations|gtol|ftolAbs|[a-z]+[A-Z][A-Za-z]*)\b/g)].map((m) => m[1]).filter((n) => /^(max|gtol|ftol)/.test(n));
  t.true(named.length >= 3);
  for (const option of named) t.true(properties.includes(option), `${option} is a request field`);
  const help = await flowscan(['scan', '--help']);
  for (const flag of warning!.match(/--[a-z-]+/g) ?? []) t.true(help.stdout.includes(flag), `flowscan scan accepts ${flag}`);
});

// ---- item 7: caps ----

/** The models seen through a counter of their graph runs (log-density, batched and gradient calls). */
function countingGraphRuns(): { models: Record<string, FlowModel>; runs: () => number } {
  let runs = 0;
  const graphCalls = new Set<string | symbol>(['logProb', 'logProbBatch', 'logProbGrad']);
  const counted = (model: FlowModel) =>
    new Proxy(model, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (graphCalls.has(key)) runs++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return { models: Object.fromEntries(Object.entries(models).map(([name, model]) => [name, counted(model)])), runs: () => runs };
}

test('item 7: 4096 starts on 20k events and a 1000 × 1000 map are refused at once, naming the limit and how to raise it', async (t) => {
  const many = Float64Array.from({ length: 20_000 }, (_, i) => x[i % x.length]);
  // "At once": before any graph run, counted rather than timed (a time bound fails on a loaded machine).
  const counting = countingGraphRuns();
  // Planned: (64 search points + 4096 starts × 30 evaluations) × 20 000 events = 2.46e9 > 1e9.
  await t.throwsAsync(runScan({ request: request({ starts: 4096 }), models: counting.models, events: { x: many }, executionProvider: 'cpu', flowscanVersion: 'test' }), {
    message: /plans up to 2\.46e\+9 event evaluations .*more than maxEventEvaluations = 1\.00e\+9 .*request field maxEventEvaluations, flowscan scan --max-event-evaluations/,
  });
  await t.throwsAsync(scan(request({ maps: [{ x: 'm_pole', y: 'gamma', nx: 1000, ny: 1000 }] }), { models: counting.models }), { message: /map m_pole × gamma: 1000000 points.*maxEventEvaluations/ });
  t.is(counting.runs(), 0, 'refused before any graph run');
  // Raised limit: the map's rows of 1000 points then meet the memory budget instead (16 events × 1000 points).
  await t.throwsAsync(scan(request({ maps: [{ x: 'm_pole', y: 'gamma', nx: 1000, ny: 1000 }], maxEventEvaluations: 1e13 }), { memoryBudget: 4 * 2 ** 20 }), {
    message: /map m_pole × gamma \(one row per call\): 1000 points need at least \d+ MiB of graph memory .*memory budget of 4 MiB.*--memory/,
  });
});
