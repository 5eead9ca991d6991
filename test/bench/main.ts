// `npm run bench`: the speed numbers of the project, printed as one table. Nothing here is a test.
//   training throughput (events/s) per flow on the TensorFlow.js backend in use, and model sizes;
//   training throughput per engine (tfjs on its backend, onnxruntime on 1 and 2 threads) at batch 1024 beside
//   the PyTorch anchors;
//   one log-density and one θ-gradient graph call at N = 101 000, K = 1 and K = 64;
//   NLL + gradient of the toy mixture at N = 101 000, K = 1 and K = 64, and a full fit's wall time;
//   gradient fit vs grid scan (evaluated points and wall time) on the toy pseudo-data.
// Options: --ep cpu|webgpu|cuda|auto (default cpu), --quick (fewer repetitions).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MixtureLikelihood, Rng, fitLikelihood, gridScan } from '@flowscan/runtime';
import { type ExecutionProviderChoice, loadModel } from '@flowscan/runtime/node';
import * as toy from '../../trainer/src/data/toy.ts';
import { LHCO_FEATURES, simulateLhcoBackground, simulateLhcoSignalTraining } from '../../trainer/src/data/lhco.ts';
import { exportModel } from '../../trainer/src/export/export.ts';
import { type FlowKind, flowConfig } from '../../trainer/src/flows/config.ts';
import { parameterSpecs } from '../../trainer/src/flows/graphs.ts';
import { selectBackend } from '../../trainer/src/train/backend.ts';
import { defineModel, trainingDataFromColumns } from '../../trainer/src/train/dataset.ts';
import { TRAINER_VERSION } from '../../trainer/src/train/saved-model.ts';
import { trainFlow } from '../../trainer/src/train/train.ts';
import { REPO_ROOT, TOY_SIGNAL_FRACTION, toyPseudoData } from '../../trainer/src/study/toy.ts';

const args = process.argv.slice(2);
const ep = (args[args.indexOf('--ep') + 1] && args.includes('--ep') ? args[args.indexOf('--ep') + 1] : 'cpu') as ExecutionProviderChoice;
const quick = args.includes('--quick');
const rows: [string, string, string][] = [];
const row = (what: string, value: string, note = ''): void => {
  rows.push([what, value, note]);
  process.stderr.write(`  ${what}: ${value} ${note}\n`);
};

async function time<T>(f: () => Promise<T>, repeat: number): Promise<{ ms: number; value: T }> {
  let value = await f(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < repeat; i++) value = await f();
  return { ms: (performance.now() - t0) / repeat, value };
}

async function trainingThroughput(): Promise<void> {
  const { backend } = await selectBackend('auto');
  const rng = new Rng(1);
  const cases: { label: string; kind: FlowKind; data: ReturnType<typeof trainingDataFromColumns>; features: string[]; params: string[] }[] = [];
  const sig = toy.simulateSignalTraining(rng, 20000);
  cases.push({ label: 'toy signal nsf (D=1, P=2)', kind: 'nsf', data: trainingDataFromColumns(sig, ['x'], ['m_pole', 'gamma']), features: ['x'], params: ['m_pole', 'gamma'] });
  const bkg = simulateLhcoBackground(rng, 20000);
  const lhcoFeatures = ['mj1', 'dmj', 'tau21j1', 'tau21j2', 'mjj'];
  for (const kind of ['maf', 'nsf', 'realnvp'] as const) {
    cases.push({ label: `LHCO background ${kind} (D=5, P=0)`, kind, data: trainingDataFromColumns(bkg as unknown as Record<string, ArrayLike<number>>, lhcoFeatures, []), features: lhcoFeatures, params: [] });
  }
  for (const c of cases) {
    const def = defineModel(c.data, c.features.map((name) => ({ name })), c.params.map((name) => ({ name })), flowConfig(c.kind));
    const result = await trainFlow(def, c.data, { maxEpochs: 1, batchSize: 512, seed: 1, engine: 'tfjs' });
    const weights = parameterSpecs(def).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    row(`training ${c.label}`, `${Math.round(result.eventsPerSecond)} events/s`, `tfjs ${backend}, batch 512, default ${c.kind} (${def.flow.blocks} blocks × ${def.flow.hidden} hidden); ${weights} weights`);
  }
}

/**
 * Training events/s of each engine on two flows at batch 1024, the epoch after a warm-up epoch, beside the
 * PyTorch eager CPU anchors quoted in issue 11 (measured elsewhere, not here).
 */
async function engineThroughput(): Promise<void> {
  const { backend } = await selectBackend('auto');
  const rng = new Rng(2);
  const anchor = (n: string): string => `PyTorch ${n} events/s (official PyTorch wheel, 2 threads, x86 server CPU; quoted, not measured here)`;
  const sig = toy.simulateSignalTraining(rng, 24000);
  const lhcoSignal = simulateLhcoSignalTraining(rng, 400);
  const cases = [
    {
      label: 'toy signal nsf 3×64 (D=1, P=2)',
      data: trainingDataFromColumns(sig, ['x'], ['m_pole', 'gamma']),
      features: ['x'],
      params: ['m_pole', 'gamma'],
      flow: flowConfig('nsf'),
      anchor: anchor('≈ 47k'),
    },
    {
      label: 'LHCO-like maf 5×128 (D=5, P=3)',
      data: trainingDataFromColumns(lhcoSignal as unknown as Record<string, ArrayLike<number>>, [...LHCO_FEATURES], ['m_zprime', 'm_x', 'm_y']),
      features: [...LHCO_FEATURES],
      params: ['m_zprime', 'm_x', 'm_y'],
      flow: flowConfig('maf', { blocks: 5, hidden: 128 }),
      anchor: anchor('≈ 70k'),
    },
  ];
  const engines = [
    { name: `tfjs ${backend}`, options: { engine: 'tfjs' as const } },
    { name: 'onnxruntime, 1 thread', options: { engine: 'onnxruntime' as const, threads: 1 } },
    { name: 'onnxruntime, 2 threads', options: { engine: 'onnxruntime' as const, threads: 2 } },
  ];
  for (const c of cases) {
    const def = defineModel(c.data, c.features.map((name) => ({ name })), c.params.map((name) => ({ name })), c.flow);
    for (const e of engines) {
      const result = await trainFlow(def, c.data, { maxEpochs: 2, batchSize: 1024, seed: 1, patience: 10, ...e.options });
      const rate = result.history.at(-1)!.eventsPerSecond;
      row(`training ${c.label}, ${e.name}`, `${Math.round(rate)} events/s`, `batch 1024, ${c.data.count} events; ${c.anchor}`);
    }
  }
}

async function graphCalls(): Promise<void> {
  const dir = join(REPO_ROOT, 'models', 'toy-signal');
  const model = await loadModel(dir, { ep });
  const N = 101_000;
  const x = new Float32Array(N);
  toy.signalSample(new Rng(3), 91.2, 2.5, x);
  const events = (await model.residentEvents(x, N)).chunk(0, N);
  const ones = new Float32Array(N).fill(1);
  const repeat = quick ? 2 : 5;
  const lp = await time(() => model.logProb(model.eventsTensor(x, N), Float32Array.of(91.2, 2.5)), repeat);
  row('log-density call, N = 101 000 (toy signal)', `${lp.ms.toFixed(1)} ms`, `${((lp.ms * 1000) / N).toFixed(2)} µs/event, ${model.executionProvider}`);
  const g1 = await time(() => model.logProbGrad(events, Float32Array.of(91.2, 2.5), model.weightsTensor(ones)), repeat);
  row('θ-gradient call, N = 101 000, K = 1', `${g1.ms.toFixed(1)} ms`, `${(g1.ms / lp.ms).toFixed(2)}× the log-density call`);
  const K = 64;
  const thetas = Float32Array.from({ length: 2 * K }, (_, i) => (i % 2 === 0 ? 85 + (i / 2) * 0.2 : 2.5));
  const b64 = await time(() => model.logProbBatch(events, thetas), 1);
  row('log-density call, N = 101 000, K = 64', `${b64.ms.toFixed(0)} ms`, `${((b64.ms * 1000) / (N * K)).toFixed(3)} µs per event·point`);
  const g64 = await time(() => model.logProbGrad(events, thetas, model.weightsTensor(ones)), 1);
  row('θ-gradient call, N = 101 000, K = 64', `${g64.ms.toFixed(0)} ms`, `${((g64.ms * 1000) / (N * K)).toFixed(3)} µs per event·point`);
  const bytes = Object.values(model.manifest.graphs).reduce((s, g) => s + g.bytes, 0);
  row('toy signal model size', `${(bytes / 1024).toFixed(0)} KiB`, `${Object.keys(model.manifest.graphs).length} ONNX graphs`);
  await model.release();
}

async function likelihoodAndFits(): Promise<void> {
  const s = await loadModel(join(REPO_ROOT, 'models', 'toy-signal'), { ep });
  const b = await loadModel(join(REPO_ROOT, 'models', 'toy-background'), { ep });
  const x = toyPseudoData();
  const make = (events: Float64Array) =>
    new MixtureLikelihood({
      components: [
        { name: 'signal', model: s, fraction: TOY_SIGNAL_FRACTION },
        { name: 'background', model: b, fraction: 1 - TOY_SIGNAL_FRACTION },
      ],
      events: { x: events },
      yields: 'fixed-fractions',
    });
  const L = make(x);
  const repeat = quick ? 1 : 3;
  const one = await time(() => L.evaluate(Float64Array.of(91, 2.5, 0.01), 1, true), repeat);
  row('toy NLL + gradient, N = 101 000, K = 1', `${one.ms.toFixed(0)} ms`, `2 components, float64 sums, ${s.executionProvider}`);
  const K = 64;
  const points = Float64Array.from({ length: 3 * K }, (_, i) => [85 + Math.floor(i / 3) * 0.2, 2.5, 0.01][i % 3]);
  const many = await time(() => L.evaluate(points, K, true), 1);
  row('toy NLL + gradient, N = 101 000, K = 64', `${many.ms.toFixed(0)} ms`, `${(many.ms / K).toFixed(0)} ms per point (event chunks bound memory)`);
  const fit = await fitLikelihood(L, { start: { m_pole: 90, gamma: 3, tau: 0.0125 }, starts: 1, signal: 'signal' });
  row('toy full fit (fit, refine, Hessian, background-only fit)', `${(fit.wallMs / 1000).toFixed(1)} s`, `${fit.evaluations.calls} evaluations, ${fit.evaluations.points} points`);

  // Gradient fit vs grid scan on the same likelihood (the paper's pseudo-data): evaluated points and wall time.
  const perAxis = quick ? 8 : 12;
  const grid = await gridScan(L, { bounds: L.bounds(), pointsPerAxis: perAxis, batchSize: 64 });
  row(
    `gradient fit vs ${perAxis}³ grid (101 000 events)`,
    `${fit.evaluations.points} vs ${grid.count} points`,
    `NLL ${fit.nll.toFixed(2)} vs ${grid.best.value.toFixed(2)}; ${(fit.wallMs / 1000).toFixed(1)} s vs ${(grid.wallMs / 1000).toFixed(1)} s; ${(grid.count / fit.evaluations.points).toFixed(0)}× fewer points`,
  );
  await s.release();
  await b.release();
}

async function main(): Promise<void> {
  const started = performance.now();
  process.stderr.write(`flowscan bench (${TRAINER_VERSION}), execution provider ${ep}${quick ? ', quick' : ''}\n`);
  const scratch = await mkdtemp(join(tmpdir(), 'flowscan-bench-'));
  try {
    await trainingThroughput();
    await engineThroughput();
    await graphCalls();
    await likelihoodAndFits();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length), ['what', 'value', 'notes'][c].length));
  const line = (r: string[]): string => r.map((cell, c) => cell.padEnd(widths[c])).join(' │ ');
  process.stdout.write(`\n${line(['what', 'value', 'notes'])}\n${widths.map((w) => '─'.repeat(w)).join('─┼─')}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(`\n(${((performance.now() - started) / 1000).toFixed(0)} s; node ${process.version}, ${process.platform}/${process.arch})\n`);
}

await main();
