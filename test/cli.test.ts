// The flowscan command line end to end: help everywhere, a small simulate → train → export → scan chain whose
// result validates against its schema, and errors a user can act on.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateScanResult } from '@flowscan/runtime';
import { flowscan } from './helpers/commands.ts';
import { flowscanInProcess, flowscanRefusal } from './helpers/in-process.ts';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscan-cli-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('every subcommand has --help', async (t) => {
  // One process shows a subcommand's help through the binary; the others come from the same registration in this
  // process, where commander prints them as for `flowscan <command> --help` and ends with exit code 0.
  const { code, stdout } = await flowscan(['scan', '--help']);
  t.is(code, 0);
  t.regex(stdout, /Usage: flowscan scan/);
  for (const command of ['simulate', 'train', 'export', 'scan', 'study', 'toys', 'validate', 'merge', 'web']) {
    const { error, output } = await flowscanInProcess([command, '--help']);
    t.is(error?.exitCode, 0, command);
    t.regex(output, new RegExp(`Usage: flowscan ${command}`));
  }
});

test('simulate → train → export → scan: a small toy chain, with a result that follows its schema', async (t) => {
  const signal = join(dir, 'signal.csv');
  const background = join(dir, 'background.csv');
  const data = join(dir, 'data.csv');
  t.is((await flowscan(['simulate', 'toy', '--process', 'signal', '--events', '4000', '--out', signal])).code, 0);
  t.is((await flowscan(['simulate', 'toy', '--process', 'background', '--events', '4000', '--out', background])).code, 0);
  t.is((await flowscan(['simulate', 'toy', '--process', 'pseudo-data', '--signal-events', '100', '--background-events', '10000', '--out', data])).code, 0);
  const common = ['--features', 'x', '--flow', 'nsf', '--blocks', '1', '--hidden', '8', '--bins', '4', '--epochs', '1', '--backend', 'wasm'];
  const trainSignal = await flowscan(['train', '--data', signal, '--params', 'm_pole,gamma', '--margin', 'x=0.5', '--linear-theta', '--theta-decay', '1e-3', ...common, '--out', join(dir, 'sig'), '--export', 'sig']);
  t.is(trainSignal.code, 0, trainSignal.stderr);
  t.regex(trainSignal.stderr, /backend "wasm"/);
  const signalModel = JSON.parse(await readFile(join(dir, 'sig', 'model.json'), 'utf8'));
  t.true(signalModel.definition.flow.linearTheta);
  const [xMin, xMax] = signalModel.definition.features[0].range;
  t.like(signalModel.definition.preprocessing[0], { lo: xMin - 0.5 * (xMax - xMin), hi: xMax + 0.5 * (xMax - xMin), map: 'logit' });
  const trainBackground = await flowscan(['train', '--data', background, '--params', 'tau', '--log-params', 'tau', '--support', 'x=40:140', ...common, '--out', join(dir, 'bkg')]);
  t.is(trainBackground.code, 0, trainBackground.stderr);
  const saved = JSON.parse(await readFile(join(dir, 'bkg', 'model.json'), 'utf8'));
  t.like(saved.definition.preprocessing[0], { lo: 40, hi: 140, map: 'probit' });
  t.is((await flowscan(['export', join(dir, 'bkg'), '--out', join(dir, 'bkg-model')])).code, 0);
  const request = {
    events: { file: 'data.csv' },
    components: [
      { name: 'signal', model: 'sig/onnx', fraction: 0.0099 },
      { name: 'background', model: 'bkg-model', fraction: 0.9901 },
    ],
    starts: 1,
    signal: 'signal',
  };
  await writeFile(join(dir, 'request.json'), JSON.stringify(request));
  const scan = await flowscan(['scan', '--request', join(dir, 'request.json'), '--out', join(dir, 'result.json'), '--ep', 'cpu']);
  t.is(scan.code, 0, scan.stderr);
  t.regex(scan.stdout, /m_pole/);
  t.regex(scan.stdout, /execution provider: cpu/);
  const result = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8'));
  t.notThrows(() => validateScanResult(result));
  t.is(result.fit.data.events, 10100);
  t.like(result.environment, { precision: 'float64', memoryBudget: 128 * 2 ** 20 });

  // The float32 graphs in small chunks find the same minimum within a tenth of its errors.
  const small = await flowscan(['scan', '--request', join(dir, 'request.json'), '--out', join(dir, 'result32.json'), '--ep', 'cpu', '--precision', 'float32', '--memory', '4']);
  t.is(small.code, 0, small.stderr);
  const result32 = JSON.parse(await readFile(join(dir, 'result32.json'), 'utf8'));
  t.like(result32.environment, { precision: 'float32', memoryBudget: 4 * 2 ** 20 });
  for (const p of result.fit.parameters) {
    const q = result32.fit.parameters.find((r: { name: string }) => r.name === p.name);
    if (p.error) t.true(Math.abs(q.value - p.value) < 0.1 * p.error, `${p.name}: float32 ${q.value} vs float64 ${p.value} ± ${p.error}`);
  }
  // The global search runs by default; --no-global-search fits from the start alone.
  t.true(result.fit.multistart.searchPoints > 0);
  const noSearch = await flowscan(['scan', '--request', join(dir, 'request.json'), '--out', join(dir, 'result-nosearch.json'), '--ep', 'cpu', '--no-global-search', '--start', 'm_pole=91,gamma=2.5,tau=0.01']);
  t.is(noSearch.code, 0, noSearch.stderr);
  const resultNoSearch = JSON.parse(await readFile(join(dir, 'result-nosearch.json'), 'utf8'));
  t.is(resultNoSearch.request.globalSearch, false);
  t.is(resultNoSearch.fit.multistart.searchPoints, 0);
  const badPrecision = await flowscanInProcess(['scan', '--request', join(dir, 'request.json'), '--precision', 'float16']);
  t.not(badPrecision.error?.exitCode, 0);
  t.regex(badPrecision.output, /--precision.*float16|float16.*--precision/);

  // An exported folder exported again: the same graphs, byte for byte, under the same name.
  const again = await flowscan(['export', join(dir, 'bkg-model'), '--out', join(dir, 'bkg-again')]);
  t.is(again.code, 0, again.stderr);
  const before = JSON.parse(await readFile(join(dir, 'bkg-model', 'manifest.json'), 'utf8'));
  const after = JSON.parse(await readFile(join(dir, 'bkg-again', 'manifest.json'), 'utf8'));
  t.is(after.name, before.name);
  for (const [name, graph] of Object.entries(before.graphs) as [string, { sha256: string }][]) t.is(after.graphs[name].sha256, graph.sha256, name);
});

test('errors name the file, the column or the option, and nothing is written', async (t) => {
  const csv = join(dir, 'few.csv');
  await writeFile(csv, 'x,m\n50,90\n60,abc\n');
  const bad = await flowscan(['train', '--data', csv, '--features', 'x', '--params', 'm', '--out', join(dir, 'never')]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /few\.csv.*line 3.*column "m".*abc/);
  // The other refusals in this process (the same commands, without main.ts's `flowscan: ` prefix and exit code).
  t.regex(await flowscanRefusal(['train', '--data', csv, '--features', 'x', '--params', 'mass', '--out', join(dir, 'never')]), /mass/);
  t.regex(await flowscanRefusal(['train', '--data', csv, '--features', 'x', '--flow', 'glow', '--out', join(dir, 'never')]), /--flow must be one of maf, nsf, nsf-coupling, realnvp, got "glow"/);
  t.regex(await flowscanRefusal(['train', '--data', csv, '--features', 'x', '--support', 'x=60', '--out', join(dir, 'never')]), /x needs an interval lo:hi with lo < hi, got "60"/);
  t.regex(await flowscanRefusal(['train', '--data', csv, '--features', 'x', '--support', 'y=0:1', '--out', join(dir, 'never')]), /--support names "y", which is not in --features \(x\)/);
  t.regex(await flowscanRefusal(['train', '--data', csv, '--features', 'x', '--margin', 'y=0.5', '--out', join(dir, 'never')]), /--margin names "y", which is not in --features \(x\)/);
  t.regex(await flowscanRefusal(['train', '--data', csv, '--features', 'x', '--margin', 'x=wide', '--out', join(dir, 'never')]), /x must be a number, got "wide"/);
  await writeFile(join(dir, 'bad-request.json'), JSON.stringify({ events: {}, components: [] }));
  const request = await flowscan(['scan', '--request', join(dir, 'bad-request.json'), '--out', join(dir, 'never.json')]);
  t.is(request.code, 1);
  t.regex(request.stderr, /bad-request\.json does not follow the scan request schema: \/events must have required property 'file'; \/components must NOT have fewer than 1 items/);
  await t.throwsAsync(readFile(join(dir, 'never.json')));
  t.regex(await flowscanRefusal(['scan']), /give either --request FILE or --demo/);
});
