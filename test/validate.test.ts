// flowscan validate: the quick toy design on the shipped models end to end, sharding that changes nothing, a
// deliberately wrong signal model flagged exactly where it is wrong, held-out files against their truth, and the
// design file's errors.
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FlowModel, Rng } from '@flowscan/runtime';
import { loadModel, writeEventsCsvFile } from '@flowscan/runtime/node';
import { readScanRequest } from '../trainer/src/cli/scan.ts';
import { SHARDED_KINDS } from '../trainer/src/shards/kinds.ts';
import { type ShardItem, mergeShards } from '../trainer/src/shards/shards.ts';
import { REPO_ROOT, TOY_SIGNAL_FRACTION, exactFit, toyPseudoData } from '../trainer/src/study/toy.ts';
import { HELD_OUT_MARGIN, heldOutCalibration, toyCalibration } from '../trainer/src/validate/calibration.ts';
import { TOY_DESIGNS } from '../trainer/src/validate/design.ts';
import { type HeldOutConfig, type HeldOutItem, heldOutConfig, heldOutItems, readHeldOutDesign, runHeldOutItem } from '../trainer/src/validate/heldout.ts';
import { runValidationShard } from '../trainer/src/validate/run.ts';
import { writeValidationSummary } from '../trainer/src/validate/summary.ts';
import { type ToyItem, type ToyModels, type ToyValidationConfig, runToyItem, toyValidationConfig } from '../trainer/src/validate/toy.ts';
import { flowscan } from './helpers/commands.ts';
import { flowscanRefusal } from './helpers/in-process.ts';

const quick = TOY_DESIGNS.quick;
let dir = '';
let models: ToyModels;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscan-validate-'));
  // As the command line loads them with --threads 1 (ep auto is the CPU here, precision auto float64).
  const load = (name: string) => loadModel(join(REPO_ROOT, 'models', name), { ep: 'auto', threads: 1 });
  models = { signal: await load('toy-signal'), background: await load('toy-background') };
});
test.after.always(async () => {
  await models?.signal.release();
  await models?.background.release();
  await rm(dir, { recursive: true, force: true });
});

/** The items' fits, without their wall times (which differ from run to run). */
function fitsOf<T extends { seconds: number }>(items: ShardItem<T>[]): unknown[] {
  return items.map(({ index, result }) => ({ index, ...result, seconds: 0 }));
}

const quickRun = (out: string, shard: { index: number; count: number }, config: ToyValidationConfig, toyModels: ToyModels) =>
  runValidationShard({ out, shard, config, total: config.points.length * config.experiments, runItem: (j) => runToyItem(config, toyModels, j), describe: () => '', quiet: true });

test.serial('validate toy --design quick: finite pulls at every point, table, figures and report; items reproducible from (seed, index)', async (t) => {
  const out = join(dir, 'whole');
  const result = await flowscan(['validate', 'toy', '--design', 'quick', '--out', out, '--threads', '1']);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /\| # \| m_pole \| gamma \| tau \| m_pole pull \| m_pole σ ratio \|/);
  t.regex(result.stdout, /worst tau: \|pull\| largest at #\d/);
  t.regex(result.stdout, /of 3 points meet the goal/);
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  t.is(summary.calibration.points.length, quick.points.length);
  for (const point of summary.calibration.points) {
    for (const c of point.parameters) t.true(c.pull.n === 1 && Number.isFinite(c.pull.mean), `point ${point.index} ${c.parameter}`);
  }
  for (const file of ['figures/pulls.svg', 'figures/pulls.png', 'figures/sigma-ratios.svg', 'figures/sigma-ratios.png', 'report.html']) t.true(existsSync(join(out, file)), file);
  // Item 2 again from nothing but the seed and its index: the same events, hence the same exact fit.
  const merged = await mergeShards<ToyItem>(out, 'validate');
  const item = merged.items[2].result;
  if ('failure' in item) return t.fail(item.failure);
  const truth = quick.points[2];
  const again = await exactFit(toyPseudoData(new Rng(1).fork(2), truth, quick.size), 'fixed-fractions', truth);
  t.deepEqual(item.exact.values, again.values);
});

test.serial('2 shards merged equal the unsharded run item by item; a finished shard is not run again', async (t) => {
  const config = toyValidationConfig(quick, quick.experiments, 1, models);
  const out = join(dir, 'sharded');
  for (const index of [1, 0]) await quickRun(out, { index, count: 2 }, config, models);
  const sharded = await mergeShards<ToyItem>(out, 'validate');
  const whole = await mergeShards<ToyItem>(join(dir, 'whole'), 'validate');
  t.is(sharded.configHash, whole.configHash, 'the command line and this test describe the same run');
  t.deepEqual(fitsOf(sharded.items), fitsOf(whole.items));
  const again = await quickRun(out, { index: 0, count: 2 }, config, models);
  t.true(again.reused);
  // `flowscan merge` summarises through the registry: the same calibration as the unsharded run's.
  const text = await (await SHARDED_KINDS.validate()).summarize(sharded, out);
  t.regex(text, /worst m_pole/);
  const calibration = (d: string) => readFile(join(d, 'summary.json'), 'utf8').then((s) => ({ ...JSON.parse(s).calibration, itemSeconds: 0 }));
  t.deepEqual(await calibration(out), await calibration(join(dir, 'whole')));
});

/**
 * The signal flow evaluated at M_pole + shift wherever M_pole > 100 GeV: a model that is wrong only at high mass.
 * Its NLL is the flow's shifted by `shift` in M_pole there, so its fit lands `shift` lower and the M_pole pull
 * moves by −shift/σ_exact, while below 100 GeV nothing changes.
 */
function shiftedAtHighMass(model: FlowModel, shift: number): FlowModel {
  const P = model.parameterCount;
  const moved = (thetas: ArrayLike<number>): Float64Array => {
    const out = Float64Array.from(thetas);
    for (let k = 0; k < out.length; k += P) if (out[k] > 100) out[k] += shift;
    return out;
  };
  return new Proxy(model, {
    get(target, key) {
      if (key === 'logProbBatch') return (events: never, thetas: ArrayLike<number>) => target.logProbBatch(events, moved(thetas));
      if (key === 'logProbGrad') return (events: never, thetas: ArrayLike<number>, weights: never) => target.logProbGrad(events, moved(thetas), weights);
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

test.serial('a signal model wrong at high mass fails the goal there and only there', async (t) => {
  const shift = 3;
  const wrong = { signal: shiftedAtHighMass(models.signal, shift), background: models.background };
  const config = toyValidationConfig(quick, quick.experiments, 1, models);
  const { items } = await quickRun(join(dir, 'wrong'), { index: 0, count: 1 }, config, wrong);
  const baseline = (await mergeShards<ToyItem>(join(dir, 'whole'), 'validate')).items;
  const good = toyCalibration(config, baseline);
  const bad = toyCalibration(config, items);
  const highMass = quick.points.flatMap((p, i) => (p.m_pole > 100 ? [i] : []));
  t.deepEqual(highMass, [2]);
  for (const [i, point] of quick.points.entries()) {
    const before = good.points[i].parameters[0];
    const after = bad.points[i].parameters[0];
    if (point.m_pole > 100) {
      const item = items[i].result;
      if ('failure' in item) return t.fail(item.failure);
      // The analytic expectation: the pull moves by −shift/σ_exact (to the minimiser's tolerance).
      t.true(Math.abs(after.pull.mean - before.pull.mean + shift / (item.exact.errors.m_pole as number)) < 0.3, `${after.pull.mean} vs ${before.pull.mean}`);
      t.false(before.misses.pull);
      t.true(after.misses.pull);
      t.is(bad.worst[0].pull?.point, i);
    } else {
      t.deepEqual(fitsOf([items[i]]), fitsOf([baseline[i]]), `point ${i} lies below 100 GeV`);
    }
  }
  const { text } = await writeValidationSummary(config, items, join(dir, 'wrong'));
  t.regex(text, /NOT GOOD ENOUGH at:[\s\S]*#3 \(m_pole 114, [^\n]*m_pole pull −\d/);
});

test('toy calibration: means, standard errors and the goal from the pulls and σ ratios of the items', (t) => {
  const config = toyValidationConfig(quick, 3, 1, models);
  const fit = (m: number, sigmaM: number) => ({
    values: { m_pole: m, gamma: 2.5, tau: 0.01 },
    errors: { m_pole: sigmaM, gamma: 0.3, tau: 1e-4 },
    atBound: { m_pole: 'free', gamma: 'free', tau: 'free' } as const,
  });
  const item = (point: number, experiment: number, flowM: number, sigmaFlow: number): ShardItem<ToyItem> => ({
    index: point * 3 + experiment,
    result: { point, experiment, seconds: 1, flow: { ...fit(flowM, sigmaFlow), converged: true, warnings: [], calls: 10 }, exact: fit(91, 0.2) },
  });
  // Point 0: pulls 0.1, 0.2, 0.3 (mean 0.2, s = 0.1, s/√3), ratios 1, 1.05, 1.15 (mean 1.067: meets the goal).
  // Point 1: pulls 1, 1 and an experiment at a bound (left out). Point 2: a failed fit only.
  const items = [item(0, 0, 91.02, 0.2), item(0, 1, 91.04, 0.21), item(0, 2, 91.06, 0.23), item(1, 0, 91.2, 0.2), item(1, 1, 91.2, 0.2)];
  const atBound = item(1, 2, 91.2, 0.2);
  if (!('failure' in atBound.result)) atBound.result.flow.atBound = { m_pole: 'upper', gamma: 'free', tau: 'free' };
  // One flow fit at point 1 without an error for m_pole: it still has a pull, but no σ ratio.
  const noError = items[4].result;
  if (!('failure' in noError)) noError.flow.errors = { ...noError.flow.errors, m_pole: null };
  items.push(atBound, { index: 6, result: { point: 2, experiment: 0, seconds: 1, failure: 'exact toy fit: not positive definite' } });
  const c = toyCalibration(config, items);
  const [p0, p1, p2] = c.points.map((p) => p.parameters[0]);
  t.true(Math.abs(p0.pull.mean - 0.2) < 1e-9 && Math.abs((p0.pull.error as number) - 0.1 / Math.sqrt(3)) < 1e-9);
  t.true(Math.abs(p0.scale.value - 3.2 / 3) < 1e-9);
  t.true(p0.pass);
  t.is(p1.pull.n, 2);
  t.is(p1.scale.n, 1);
  t.is(p1.excluded, 1);
  t.deepEqual(c.points[1].notes, ['1 of 3 flow fits gave no error for m_pole (no positive-definite Hessian at their minimum)']);
  t.regex(c.points[2].notes[0], /experiment 0 failed: exact toy fit/);
  t.true(p1.misses.pull && !p1.misses.scale);
  t.is(c.points[1].pass, false);
  t.is(p2.pass, null);
  t.is(c.points[2].pass, null);
  t.deepEqual(c.worst[0].pull, { point: 1, value: c.points[1].parameters[0].pull.mean });
});

test('held-out calibration: bias, width and ±1σ coverage, failing only beyond the goal by two standard errors', (t) => {
  const config: HeldOutConfig = {
    reference: 'held-out',
    request: { events: {}, components: [] },
    points: [
      { truth: { mu: 0 }, files: ['a', 'b', 'c', 'd'] },
      { truth: { mu: 0 }, files: Array.from({ length: 8 }, (_, i) => `f${i}`) },
      { truth: { mu: 0 }, files: ['g', 'h'] },
    ],
    parameters: [{ name: 'mu', unit: '', logScale: false }],
    models: {},
    precision: 'float64',
  };
  const pulls = [[-0.5, 0.5, 1.5, -1.5], [2.1, 1.9, 2.0, 2.2, 1.8, 2.0, 2.05, 1.95], [0.1, 0.15]];
  const items: ShardItem<HeldOutItem>[] = heldOutItems(config.points).map(({ point, file }, index) => ({
    index,
    result: {
      point,
      file,
      seconds: 1,
      events: 100,
      dropped: 0,
      fit: { values: { mu: pulls[point][file] * 0.5 }, errors: { mu: 0.5 }, atBound: { mu: 'free' }, converged: true, warnings: [], calls: 5 },
    },
  }));
  const c = heldOutCalibration(config, items);
  const [wide, biased, agreeing] = c.points.map((p) => p.parameters[0]);
  const width = Math.sqrt((0.25 + 0.25 + 2.25 + 2.25) / 3);
  t.true(Math.abs(wide.pull.mean) < 1e-12 && Math.abs(wide.scale.value - width) < 1e-12);
  t.is(wide.coverage, 0.5);
  // Width 1.29 ± 1.29/√6 = 0.53: within 1 ± 0.1 up to two standard errors.
  t.false(wide.misses.scale);
  t.true(wide.pass);
  // Bias 2.0 with the unit-width floor 1/√8 = 0.35: 2.0 − 2·0.35 > 0.3, so it fails.
  t.true(Math.abs(biased.pull.mean - 2) < 1e-9);
  t.is(c.goal.heldOutMargin, HELD_OUT_MARGIN);
  t.true(biased.misses.pull);
  t.is(biased.coverage, 0);
  t.is(c.points[1].pass, false);
  // Two files 0.05σ apart: a width of 0.035, but its standard error under unit-width pulls is 1/√2.
  t.true(Math.abs(agreeing.scale.value - 0.05 / Math.SQRT2) < 1e-9);
  t.true(Math.abs((agreeing.scale.error as number) - Math.SQRT1_2) < 1e-9);
  t.is(agreeing.pass, true);
});

test.serial('held-out files: a CSV of a toy pseudo-experiment fits as the toy item did; weighted events get sandwich errors', async (t) => {
  const out = join(dir, 'held-out');
  const baseline = (await mergeShards<ToyItem>(join(dir, 'whole'), 'validate')).items;
  const truth = quick.points[1];
  const x = toyPseudoData(new Rng(1).fork(1), truth, quick.size);
  // The same events with unit weights, and with every weight 2: the NLL doubles, so the Hessian errors shrink by
  // √2, while the sandwich H⁻¹VH⁻¹ (V = Σ w² s sᵀ = 4 Σ s sᵀ, H = 2 I) stays at the unweighted errors.
  await writeEventsCsvFile(join(dir, 'pe-1.csv'), { x, w: new Float64Array(x.length).fill(1) }, ['x', 'w']);
  await writeEventsCsvFile(join(dir, 'pe-1-w2.csv'), { x, w: new Float64Array(x.length).fill(2) }, ['x', 'w']);
  await writeFile(
    join(dir, 'request.json'),
    JSON.stringify({
      events: { file: 'unused.csv', weights: 'w' },
      components: [
        { name: 'signal', model: join(REPO_ROOT, 'models', 'toy-signal'), fraction: TOY_SIGNAL_FRACTION },
        { name: 'background', model: join(REPO_ROOT, 'models', 'toy-background'), fraction: 1 - TOY_SIGNAL_FRACTION },
      ],
    }),
  );
  const designPath = join(dir, 'design.json');
  await writeFile(designPath, JSON.stringify({ points: [{ name: 'narrow low mass', truth, files: ['pe-1.csv', 'pe-1-w2.csv'] }] }));
  const { request } = await readScanRequest(join(dir, 'request.json'));
  const byName = { signal: models.signal, background: models.background };
  const config = await heldOutConfig(await readHeldOutDesign(designPath), designPath, request, byName);
  const { items } = await runValidationShard({ out, shard: { index: 0, count: 1 }, config, total: 2, runItem: (j) => runHeldOutItem(config, byName, dir, j), describe: () => '', quiet: true });
  const [unit, doubled] = items.map((item) => item.result);
  const toyItem = baseline[1].result;
  for (const r of [unit, doubled, toyItem]) if ('failure' in r) return t.fail(r.failure);
  if ('failure' in unit || 'failure' in doubled || 'failure' in toyItem) return;
  t.deepEqual(unit.fit.values, toyItem.flow.values);
  for (const name of ['m_pole', 'tau']) {
    const ratio = (doubled.fit.errors[name] as number) / (toyItem.flow.errors[name] as number);
    t.true(ratio > 0.85 && ratio < 1.15, `${name}: sandwich/unweighted error ${ratio} (the Hessian's would be 0.71)`);
  }
  const { calibration, text } = await writeValidationSummary(config, items, out);
  const tau = calibration.points[0].parameters.find((c) => c.parameter === 'tau')!;
  const pulls = [unit, doubled].map((r) => (r.fit.values.tau - truth.tau) / (r.fit.errors.tau as number));
  t.true(Math.abs(tau.pull.mean - (pulls[0] + pulls[1]) / 2) < 1e-12);
  t.is(tau.coverage, pulls.filter((p) => Math.abs(p) <= 1).length / 2);
  t.regex(text, /\| 1 narrow low mass \| 66 \|/);
  t.true(existsSync(join(out, 'figures', 'pull-widths.svg')));
});

test('design.json mistakes are refused with the file, the place and what was expected', async (t) => {
  const designPath = join(dir, 'bad-design.json');
  const request = {
    events: { file: 'unused.csv' },
    components: [
      { name: 'signal', model: 'models/toy-signal', fraction: 0.01 },
      { name: 'background', model: 'models/toy-background', fraction: 0.99 },
    ],
    fixed: { gamma: 2.5 },
  };
  const byName = { signal: models.signal, background: models.background };
  await writeFile(join(dir, 'here.csv'), 'x\n90\n');
  const cases: [string, RegExp][] = [
    ['{ "points": [', /bad-design\.json is not valid JSON/],
    ['{ "point": [] }', /\(top level\) must have required property 'points'.*\(top level\) must NOT have additional properties \("point"\)/],
    ['{ "points": [] }', /\/points must NOT have fewer than 1 items/],
    ['{ "points": [ { "truth": { "m_pole": "91" }, "files": ["here.csv"] } ] }', /\/points\/0\/truth\/m_pole must be number/],
    ['{ "points": [ { "truth": { "m_pole": 91 }, "file": "here.csv" } ] }', /\/points\/0 must have required property 'files'/],
    ['{ "points": [ { "truth": { "mpole": 91 }, "files": ["here.csv"] } ] }', /points\[0\]\.truth names "mpole", which is not a free parameter of the request \(free: m_pole, tau\)/],
    ['{ "points": [ { "truth": { "gamma": 2 }, "files": ["here.csv"] } ] }', /names "gamma", which is not a free parameter/],
    ['{ "points": [ { "truth": { "tau": 0.01 }, "files": ["here.csv"] }, { "truth": { "m_pole": 200 }, "files": ["here.csv"] } ] }', /points\[1\]\.truth m_pole = 200 lies outside its bounds \[60\.000023, 119\.99999\]/],
    ['{ "points": [ { "truth": { "m_pole": 91 }, "files": ["here.csv", "gone.csv"] } ] }', /points\[0\]\.files: gone\.csv \(.*gone\.csv\) is not a file/],
  ];
  for (const [text, message] of cases) {
    await writeFile(designPath, text);
    const error = await t.throwsAsync(async () => heldOutConfig(await readHeldOutDesign(designPath), designPath, request, byName));
    t.regex(error?.message ?? '', message, text);
  }
});

test('validate refuses contradictory or missing choices on the command line', async (t) => {
  const cases: [string[], RegExp][] = [
    [['validate', '--out', join(dir, 'x')], /give either the reference "toy" or --request FILE --design design\.json/],
    [['validate', 'toy', '--design', 'huge', '--out', join(dir, 'x')], /--design must be one of quick, default for the toy, got "huge"/],
    [['validate', 'toy', '--shard', '2/2', '--out', join(dir, 'x')], /--shard 2\/2: the index must be in \[0, 1\]/],
  ];
  // In this process: a flowscan process each would spend more CPU starting than refusing.
  for (const [args, message] of cases) t.regex(await flowscanRefusal(args), message, args.join(' '));
});
