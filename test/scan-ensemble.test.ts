// Ensembles in scan requests: a component's "model" may list several model folders, whose mean density is the
// component's. Oracle: an ensemble of a flow and a copy of it is that flow, so `flowscan scan` must give the fit of
// the single flow; the result records both members' graphs; toys and held-out validation load ensembles too, and
// the look-elsewhere scan gives the flow's q(θ) too.
import test from 'ava';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, type ScanResultFile, formatEventsCsv, validateScanRequest } from '@flowscan/runtime';
import * as toy from '../trainer/src/data/toy.ts';
import { flowscan } from './helpers/commands.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-scan-ensemble-');
const MODELS = join(import.meta.dirname, '..', 'models');
const F_SIGNAL = 0.05;

/** A request over the toy CSV with the signal component's model(s) as given. */
function request(signal: string | string[]): object {
  return {
    events: { file: 'events.csv' },
    components: [
      { name: 'signal', model: signal, fraction: F_SIGNAL },
      { name: 'background', model: join(MODELS, 'toy-background'), fraction: 1 - F_SIGNAL },
    ],
    signal: 'signal',
    start: { m_pole: 91, gamma: 2.6, tau: 0.0105 },
    starts: 1,
    globalSearch: false,
  };
}

let prepared: Promise<void> | null = null;

/** The files of the tests, written once into the temporary folder (which exists only once the tests run). */
function prepare(): Promise<void> {
  prepared ??= writeInputs(folder());
  return prepared;
}

async function writeInputs(dir: string): Promise<void> {
  await cp(join(MODELS, 'toy-signal'), join(dir, 'toy-signal-copy'), { recursive: true });
  const { x } = toy.pseudoData(new Rng(21), { nSignal: 100, nBackground: 1900 });
  await writeFile(join(dir, 'events.csv'), formatEventsCsv({ x }, ['x']));
  await writeFile(join(dir, 'single.json'), JSON.stringify(request(join(MODELS, 'toy-signal'))));
  await writeFile(join(dir, 'ensemble.json'), JSON.stringify(request([join(MODELS, 'toy-signal'), 'toy-signal-copy'])));
  await writeFile(join(dir, 'design.json'), JSON.stringify({ points: [{ name: 'paper', truth: { m_pole: 91.2, gamma: 2.5, tau: 0.01 }, files: ['events.csv'] }] }));
}

test('flowscan scan: an ensemble of a flow and its copy gives the fit of the flow alone; the result names both graphs', async (t) => {
  await prepare();
  const dir = folder();
  const results: ScanResultFile[] = [];
  for (const name of ['single', 'ensemble']) {
    const report = name === 'ensemble' ? ['--report', join(dir, 'ensemble-report')] : [];
    const run = await flowscan(['scan', '--request', join(dir, `${name}.json`), '--out', join(dir, `${name}-result.json`), '--ep', 'cpu', '--threads', '1', ...report]);
    t.is(run.code, 0, run.stderr);
    t.is(run.stdout.includes('training spread of the ensembles'), name === 'ensemble', run.stdout);
    results.push(JSON.parse(await readFile(join(dir, `${name}-result.json`), 'utf8')) as ScanResultFile);
  }
  const [single, ensemble] = results;
  t.true(Math.abs(single.fit.nll - ensemble.fit.nll) < 1e-6 * Math.abs(single.fit.nll), `NLL ${single.fit.nll} vs ${ensemble.fit.nll}`);
  for (const p of single.fit.parameters) {
    const q = ensemble.fit.parameters.find((r) => r.name === p.name)!;
    t.true(Math.abs(p.value - q.value) <= 1e-4 * p.error!, `${p.name}: ${p.value} vs ${q.value}`);
    t.true(Math.abs(p.error! - q.error!) <= 1e-3 * p.error!, `${p.name} error: ${p.error} vs ${q.error}`);
  }
  // A flow and its copy have no training spread; a single flow has none to report.
  t.is(single.trainingSpread, undefined);
  t.deepEqual(ensemble.trainingSpread!.map((s) => s.component), ['signal']);
  t.deepEqual(ensemble.trainingSpread![0].trainingError, ensemble.trainingSpread![0].names.map(() => 0));
  t.is(ensemble.trainingSpread![0].memberOffsets.length, 2);
  t.true((await readFile(join(dir, 'ensemble-report', 'report.html'), 'utf8')).includes('Training spread of each ensemble'), 'the report shows the training spread');
  const hash = single.environment.models!.signal;
  t.is(ensemble.environment.models!.signal, `${hash}+${hash}`);
  t.deepEqual(ensemble.request.components[0].model, [join(MODELS, 'toy-signal'), 'toy-signal-copy']);
});

test('flowscan toys: components with ensembles generate and fit toys; --lee scans an ensemble as its flow alone', async (t) => {
  await prepare();
  const dir = folder();
  const out = join(dir, 'toys');
  const run = await flowscan(['toys', '--request', join(dir, 'ensemble.json'), '--toys', '2', '--events', '2000', '--truth', 'm_pole=91.2,gamma=2.5,tau=0.01', '--threads', '1', '--out', out]);
  t.is(run.code, 0, run.stderr);
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  t.is(summary.summary.toys, 2);
  t.regex(summary.config.models.signal, /^[0-9a-f]{64}\+[0-9a-f]{64}$/);
  // Background-only toys come from the one background flow, so both runs scan the same events: the ensemble of the
  // flow and its copy must give the flow's q(m_pole) on the toys and on the observed events.
  const scans = [];
  for (const name of ['single', 'ensemble']) {
    const lee = join(dir, `lee-${name}`);
    const args = ['--toys', '2', '--events', '2000', '--truth', 'm_pole=91.2,gamma=2.5,tau=0.01', '--lee', 'm_pole=80:100:5', '--observed', '--threads', '1', '--out', lee];
    const result = await flowscan(['toys', '--request', join(dir, `${name}.json`), ...args]);
    t.is(result.code, 0, result.stderr);
    scans.push(JSON.parse(await readFile(join(lee, 'summary.json'), 'utf8')).summary.lookElsewhere);
  }
  const [single, ensemble] = scans;
  t.true(single.observed.qMax > 1, `observed q_max ${single.observed.qMax}`);
  t.is(ensemble.observed.at, single.observed.at);
  t.true(Math.abs(ensemble.observed.qMax - single.observed.qMax) <= 1e-9 * single.observed.qMax, `q_max ${ensemble.observed.qMax} vs ${single.observed.qMax}`);
  t.deepEqual(ensemble.meanUpcrossings, single.meanUpcrossings);
});

test('flowscan validate --request: a held-out file fits with an ensemble as with the flow alone', async (t) => {
  await prepare();
  const dir = folder();
  const fits = [];
  for (const name of ['single', 'ensemble']) {
    const out = join(dir, `validate-${name}`);
    const run = await flowscan(['validate', '--request', join(dir, `${name}.json`), '--design', join(dir, 'design.json'), '--threads', '1', '--out', out]);
    t.is(run.code, 0, run.stderr);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    fits.push(summary.calibration.points[0].parameters as { parameter: string; pull: { mean: number } }[]);
  }
  const [single, ensemble] = fits;
  t.is(single.length, 3);
  for (const [j, p] of single.entries()) t.true(Math.abs(p.pull.mean - ensemble[j].pull.mean) < 1e-3, `${p.parameter}: pull ${p.pull.mean} vs ${ensemble[j].pull.mean}`);
});

test('the request schema takes one folder or a list of distinct folders, and names what is wrong otherwise', (t) => {
  const components = (model: unknown) => ({ events: { file: 'e.csv' }, components: [{ name: 'signal', model, fraction: 1 }] });
  t.deepEqual(validateScanRequest(components(['a', 'b']), 'r.json').components[0].model, ['a', 'b']);
  for (const bad of [[], ['a', 'a'], ['a', 3], 7]) {
    t.throws(() => validateScanRequest(components(bad), 'r.json'), { message: /r\.json does not follow the scan request schema: .*components\/0\/model/ }, JSON.stringify(bad));
  }
});
