// `npm run bench`: the speed numbers of the project, printed as one table. Nothing here is a test. Ratios are
// measured side by side in one run (machines of this kind differ 2× per core in absolute time):
//   training throughput per engine (tfjs on its backend, onnxruntime on 1 and 2 threads) at batch 1024 beside
//   the PyTorch anchors;
//   one flow's NLL and NLL + ∇θ at N ≈ 10^5 for the PyTorch reference architectures (random weights), float64
//   and float32 graphs, beside the PyTorch anchors, and K = 64 points per call against K = 1;
//   peak memory of a 10^6-event, K = 16 evaluation of the toy mixture (a child process);
//   the toy fit on pseudo-experiments at the paper's point: evaluations, convergence, warnings;
//   NLL + gradient of the toy mixture at N = 101 000, K = 1 and K = 64, a full fit's wall time, three profile
//   intervals and a 25×25 ΔNLL map against it, and the gradient fit vs a grid scan.
// Options: --ep cpu|webgpu|cuda|auto (default cpu), --quick (fewer repetitions and pseudo-experiments),
// --fits N (pseudo-experiments, default 20), --only training,likelihood,memory,fits,generate (some sections),
// --generate-max 8 (flowscan generate up to 10^8 events; default 10^7).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MixtureLikelihood, Rng, fitLikelihood, gridScan, likelihoodMap2d, profileLikelihood } from '@flowscan/runtime';
import { type ExecutionProviderChoice, loadModel } from '@flowscan/runtime/node';
import * as toy from '../../trainer/src/data/toy.ts';
import { LHCO_FEATURES, simulateLhcoSignalTraining } from '../../trainer/src/data/lhco.ts';
import { exportModel } from '../../trainer/src/export/export.ts';
import { flowConfig } from '../../trainer/src/flows/config.ts';
import { initialWeights, parameterSpecs } from '../../trainer/src/flows/graphs.ts';
import { selectBackend } from '../../trainer/src/train/backend.ts';
import { defineModel, trainingDataFromColumns } from '../../trainer/src/train/dataset.ts';
import { TRAINER_VERSION } from '../../trainer/src/train/saved-model.ts';
import { trainFlow } from '../../trainer/src/train/train.ts';
import { REPO_ROOT, TOY_SIGNAL_FRACTION, toyPseudoData } from '../../trainer/src/study/toy.ts';
import { generateThroughput } from './generate.ts';

const args = process.argv.slice(2);
const ep = (args[args.indexOf('--ep') + 1] && args.includes('--ep') ? args[args.indexOf('--ep') + 1] : 'cpu') as ExecutionProviderChoice;
const quick = args.includes('--quick');
const fitCount = args.includes('--fits') ? Number(args[args.indexOf('--fits') + 1]) : quick ? 5 : 20;
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;
const execFileAsync = promisify(execFile);
const rows: [string, string, string][] = [];
const row = (what: string, value: string, note = ''): void => {
  rows.push([what, value, note]);
  process.stderr.write(`  ${what}: ${value} ${note}\n`);
};

/** Mean wall time of `repeat` calls, after one warm-up call unless the session is warm already. */
async function time<T>(f: () => Promise<T>, repeat: number, warmUp = true): Promise<{ ms: number; value: T }> {
  let value = warmUp ? await f() : (undefined as T);
  const t0 = performance.now();
  for (let i = 0; i < repeat; i++) value = await f();
  return { ms: (performance.now() - t0) / repeat, value };
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

/** PyTorch eager CPU anchors of issue 11 (official wheel, 2 threads, another x86 server CPU): quoted, not measured. */
const PYTORCH_ANCHOR = 'PyTorch eager, 2 threads, x86 server CPU; quoted in issue 11, not measured here';

/**
 * One flow's likelihood at N ≈ 10^5 for the architectures of the PyTorch reference (random weights: the cost does not
 * depend on their values): −Σ log p, and −Σ log p with its θ-gradient, per precision; then K = 64 points per call.
 */
async function likelihoodEngine(scratch: string): Promise<void> {
  const rng = new Rng(5);
  const toyEvents = toyPseudoData();
  const lhco = simulateLhcoSignalTraining(rng, 1400);
  const lhcoColumns = lhco as unknown as Record<string, ArrayLike<number>>;
  const cases = [
    {
      label: 'toy NSF 5×64, 8 bins (D=1, P=2)',
      data: trainingDataFromColumns({ x: toyEvents, m_pole: toyEvents.map(() => 60 + 60 * rng.uniform()), gamma: toyEvents.map(() => 0.5 + 4.5 * rng.uniform()) }, ['x'], ['m_pole', 'gamma']),
      features: [{ name: 'x', support: [40, 140] as [number, number] }],
      params: ['m_pole', 'gamma'],
      flow: flowConfig('nsf', { blocks: 5, hidden: 64, bins: 8 }),
      theta: [91.2, 2.5],
      anchor: { logProb: 339, grad: 566 },
      points: 64,
    },
    {
      label: 'LHCO-like MAF 5×128 (D=5, P=3)',
      data: trainingDataFromColumns(lhcoColumns, [...LHCO_FEATURES], ['m_zprime', 'm_x', 'm_y']),
      features: LHCO_FEATURES.map((name) => ({ name })),
      params: ['m_zprime', 'm_x', 'm_y'],
      flow: flowConfig('maf', { blocks: 5, hidden: 128 }),
      theta: [3500, 500, 100],
      anchor: { logProb: 243, grad: 737 },
      // K points cost ≈ K × one point on a CPU (see docs/engine.md); 16 keep the bench short.
      points: 16,
    },
  ];
  for (const c of cases) {
    const def = defineModel(c.data, c.features, c.params.map((name) => ({ name })), c.flow);
    const weights = initialWeights(parameterSpecs(def), () => rng.uniform());
    const dir = join(scratch, c.label.split(' ')[0] + c.flow.kind);
    const provenance = { dataHash: '0'.repeat(64), dataFiles: [], events: c.data.count, trainingEvents: c.data.count, validationEvents: 1, epochs: 1, bestEpoch: 1, validationLoss: 0, backend: 'none (random weights)', seed: 5, date: new Date().toISOString(), trainer: TRAINER_VERSION };
    await exportModel({ definition: def, weights, provenance, history: [] }, dir, { name: 'bench' });
    const N = Math.min(c.data.count, c.flow.kind === 'maf' ? 110_000 : 101_000);
    const D = def.features.length;
    const columns = Object.fromEntries(def.features.map((f, d) => [f.name, Float64Array.from({ length: N }, (_, i) => c.data.features[i * D + d])]));
    let gradientK1 = 0;
    for (const precision of ['float64', 'float32'] as const) {
      const model = await loadModel(dir, { ep, precision });
      const L = new MixtureLikelihood({ components: [{ name: 'flow', model, fraction: 1 }], events: columns, yields: 'fixed-fractions' });
      const point = Float64Array.from(c.theta);
      const repeat = quick ? 2 : 4;
      const nll = await time(() => L.evaluate(point, 1, false), repeat);
      const grad = await time(() => L.evaluate(point, 1, true), repeat);
      const ratio = (anchor: number, ms: number): string => `${(anchor / ms).toFixed(2)}× PyTorch's ${anchor} ms`;
      row(`${c.label}: −Σ log p, N = ${N}, ${precision}`, `${nll.ms.toFixed(0)} ms`, `${ratio(c.anchor.logProb, nll.ms)} (${PYTORCH_ANCHOR}); ${model.executionProvider}`);
      row(`${c.label}: −Σ log p and ∇θ, N = ${N}, ${precision}`, `${grad.ms.toFixed(0)} ms`, `${ratio(c.anchor.grad, grad.ms)}; ${(grad.ms / nll.ms).toFixed(2)}× the NLL alone`);
      if (precision === 'float64') gradientK1 = grad.ms;
      if (precision === 'float64') {
        const K = c.points;
        const points = Float64Array.from({ length: K * c.theta.length }, (_, i) => c.theta[i % c.theta.length] * (1 + 0.001 * Math.floor(i / c.theta.length)));
        const many = await time(() => L.evaluate(points, K, true), 1, false);
        row(`${c.label}: −Σ log p and ∇θ, K = ${K} points, ${precision}`, `${(many.ms / 1000).toFixed(1)} s`, `${(many.ms / gradientK1).toFixed(1)}× K = 1 (goal for K = 64: ≤ 8×); chunks of ${L.chunkSize(K)} events`);
      }
      await model.release();
    }
  }
}

/** Peak resident memory of a 10^6-event, K = 16 evaluation with gradients (a fresh process, so nothing else counts). */
async function memoryPeak(): Promise<void> {
  const probe = join(REPO_ROOT, 'test', 'bench', 'memory-probe.ts');
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', probe, ep], { cwd: REPO_ROOT, maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { events: number; points: number; maxRssMiB: number; seconds: number; chunk: number; budgetMiB: number };
  row(
    `peak memory, N = 10^6 events, K = ${r.points}, NLL + ∇θ (toy mixture)`,
    `${r.maxRssMiB.toFixed(0)} MiB`,
    `goal ≤ 1024 MiB; memory budget ${r.budgetMiB} MiB → chunks of ${r.chunk} events; ${r.seconds.toFixed(1)} s`,
  );
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
  const start = { m_pole: 90, gamma: 3, tau: 0.0125 };
  const fit = await fitLikelihood(L, { start, starts: 1, signal: 'signal' });
  row('toy full fit (fit, refine, Hessian, background-only fit)', `${(fit.wallMs / 1000).toFixed(1)} s`, `${fit.evaluations.calls} evaluations, ${fit.evaluations.points} points`);

  // Profiles of the three parameters and a 25 × 25 ΔNLL map with gradient arrows, against the fit's own cost.
  const best = Float64Array.from(L.freeNames, (n) => fit.parameters.find((p) => p.name === n)!.value);
  const errors = Float64Array.from(L.freeNames, (n) => fit.parameters.find((p) => p.name === n)!.error ?? 1);
  const profileStart = performance.now();
  const profiles = await profileLikelihood(L, { best, nllMin: fit.nll, bounds: L.bounds(), scales: errors, covariance: Float64Array.from(fit.covariance!.flat()) });
  const profileMs = performance.now() - profileStart;
  const mapStart = performance.now();
  const span = (k: number): [number, number] => [best[k] - 4 * errors[k], best[k] + 4 * errors[k]];
  await likelihoodMap2d(L, best, 0, 1, [span(0), span(1)], 25, 25, { withGradient: true, nllMin: fit.nll });
  const mapMs = performance.now() - mapStart;
  row(
    '3 profile intervals + a 25×25 ΔNLL map with gradients (toy)',
    `${((profileMs + mapMs) / fit.wallMs).toFixed(1)}× the fit`,
    `goal ≤ 5×; profiles ${(profileMs / 1000).toFixed(1)} s (${profiles.evaluations.calls} calls, ${profiles.evaluations.points} points), map ${(mapMs / 1000).toFixed(1)} s, fit ${(fit.wallMs / 1000).toFixed(1)} s`,
  );

  // Pseudo-experiments at the paper's point: how many evaluations a fit takes, and whether it says it converged.
  const calls: number[] = [];
  let converged = 0;
  let warned = 0;
  let seconds = 0;
  for (let seed = 1; seed <= fitCount; seed++) {
    const f = await fitLikelihood(make(toyPseudoData(1000 + seed)), { start, starts: 1 });
    calls.push(f.evaluations.calls);
    if (f.converged) converged++;
    if (f.warnings.length > 0) warned++;
    seconds += f.wallMs / 1000;
  }
  calls.sort((a, b) => a - b);
  row(
    `toy fit on ${fitCount} pseudo-experiments (paper's point)`,
    `median ${calls[Math.floor((fitCount - 1) / 2)]} evaluations`,
    `goal ≤ 30; range ${calls[0]}–${calls.at(-1)}; ${converged}/${fitCount} converged, ${warned} with warnings; ${(seconds / fitCount).toFixed(1)} s per fit`,
  );

  // Gradient fit vs grid scan on the same likelihood (the paper's pseudo-data): evaluated points and wall time.
  const perAxis = 8;
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
    const sections: Record<string, () => Promise<void>> = {
      training: engineThroughput,
      likelihood: () => likelihoodEngine(scratch),
      memory: memoryPeak,
      fits: likelihoodAndFits,
      generate: () => generateThroughput(scratch, row, args.includes('--generate-max') ? Number(args[args.indexOf('--generate-max') + 1]) : 7),
    };
    for (const name of only ?? Object.keys(sections)) {
      const section = sections[name];
      if (!section) throw new Error(`--only: unknown section "${name}", expected some of ${Object.keys(sections).join(', ')}`);
      await section();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length), ['what', 'value', 'notes'][c].length));
  const line = (r: string[]): string => r.map((cell, c) => cell.padEnd(widths[c])).join(' │ ');
  process.stdout.write(`\n${line(['what', 'value', 'notes'])}\n${widths.map((w) => '─'.repeat(w)).join('─┼─')}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(`\n(${((performance.now() - started) / 1000).toFixed(0)} s; node ${process.version}, ${process.platform}/${process.arch})\n`);
}

await main();
