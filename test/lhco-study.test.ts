// The LHCO-like study: its pseudo-data and selection against a plain filter of the simulator's stream, and (with
// FLOWSCAN_SLOW_TESTS=1, a few minutes) the quick study end to end: report, figures, a finite fit with errors.
import test from 'ava';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../runtime/src/random.ts';
import { LHCO_FEATURES, type LhcoEvents, type LhcoPoint, simulateLhcoBackground, simulateLhcoSignal } from '../trainer/src/data/lhco.ts';
import {
  LHCO_ANALYSIS_MJJ_WINDOW,
  LHCO_STUDY_PSEUDO_DATA,
  LHCO_STUDY_TRUTH,
  lhcoStudyPseudoData,
  simulateSelectedSignal,
} from '../trainer/src/study/lhco-data.ts';

const [lo, hi] = LHCO_ANALYSIS_MJJ_WINDOW;

/** Oracle: one long simulator stream, filtered event by event, first n kept. */
function filteredStream(rng: Rng, n: number, point: LhcoPoint, streamLength: number): LhcoEvents {
  const all = simulateLhcoSignal(rng, streamLength, point);
  const rows: number[] = [];
  for (let i = 0; i < streamLength && rows.length < n; i++) if (all.mjj[i] >= lo && all.mjj[i] <= hi) rows.push(i);
  if (rows.length < n) throw new Error(`oracle stream too short: ${rows.length} of ${n} events pass`);
  return Object.fromEntries(LHCO_FEATURES.map((f) => [f, Float64Array.from(rows, (i) => all[f][i])])) as LhcoEvents;
}

test('selected signal: the first n in-window events of the simulator stream, across batches too', (t) => {
  // (3000, 1000, 300): the 1 TeV X never fits in one jet, so m_JJ often drops below the window and one batch of
  // 1.1·n + 100 events is not enough — the second batch must continue the same stream.
  for (const point of [{ mZprime: 3500, mX: 500, mY: 100 }, { mZprime: 3000, mX: 1000, mY: 300 }]) {
    const n = 3000;
    const got = simulateSelectedSignal(new Rng(11), n, point);
    const expected = filteredStream(new Rng(11), n, point, 40 * n);
    for (const f of LHCO_FEATURES) t.deepEqual(got[f], expected[f], `${f} at (${point.mZprime}, ${point.mX}, ${point.mY})`);
  }
  const lowPass = simulateLhcoSignal(new Rng(11), 4000, { mZprime: 3000, mX: 1000, mY: 300 }).mjj.filter((m) => m >= lo && m <= hi).length;
  t.true(lowPass < 1.1 * 3000 + 100, `the second point must need more than one batch (${lowPass} of 4000 pass)`);
});

test('pseudo-data: 10k selected signal at the benchmark point, then 100k background in the window, seeded', (t) => {
  const { nSignal, nBackground } = LHCO_STUDY_PSEUDO_DATA;
  const seed = 7;
  const data = lhcoStudyPseudoData(seed);
  t.is(data.nSignal, 10_000);
  t.is(data.nBackground, 100_000);
  for (const f of LHCO_FEATURES) t.is(data.events[f].length, nSignal + nBackground);
  t.is(data.isSignal.reduce((s, v) => s + v, 0), nSignal);
  t.true(data.isSignal.subarray(0, nSignal).every((v) => v === 1));
  t.true(data.events.mjj.every((m) => m >= lo && m <= hi), 'every event passes the m_JJ selection');

  const root = new Rng(seed).fork(5);
  const point = { mZprime: LHCO_STUDY_TRUTH.m_zprime, mX: LHCO_STUDY_TRUTH.m_x, mY: LHCO_STUDY_TRUTH.m_y };
  const signal = filteredStream(root.fork(1), nSignal, point, 2 * nSignal);
  const background = simulateLhcoBackground(root.fork(2), nBackground, { mjjRange: LHCO_ANALYSIS_MJJ_WINDOW });
  for (const f of LHCO_FEATURES) {
    t.deepEqual(data.events[f].subarray(0, nSignal), signal[f], `signal ${f}`);
    t.deepEqual(data.events[f].subarray(nSignal), background[f], `background ${f}`);
  }
  t.deepEqual(lhcoStudyPseudoData(seed).events.mj1, data.events.mj1, 'the same events for the same seed');
  t.notDeepEqual(lhcoStudyPseudoData(seed + 1).events.mj1, data.events.mj1, 'another seed, other events');
});

const slow = process.env.FLOWSCAN_SLOW_TESTS === '1';
const slowTest = slow ? test : test.skip;

slowTest(`quick LHCO study end to end with a two-flow signal ensemble: report, every figure, finite fit with errors${slow ? '' : ' (skipped: set FLOWSCAN_SLOW_TESTS=1, takes minutes)'}`, async (t) => {
  t.timeout(15 * 60_000);
  const { runLhcoStudy } = await import('../trainer/src/study/lhco.ts');
  const out = await mkdtemp(join(tmpdir(), 'flowscan-lhco-'));
  try {
    // Two signal flows: the ensemble path (member training, the ensemble in the fit, its samples in the figures).
    const result = await runLhcoStudy({ scale: 'quick', out, seed: 1, backend: 'auto', signalFlows: 2 });
    const html = await readFile(result.reportPath, 'utf8');
    t.true(html.startsWith('<!DOCTYPE html>'));
    const expectedFigures = [
      'signal-mjj', 'signal-mj1', 'signal-dmj', 'signal-tau21j1', 'signal-tau21j2', 'interpolation-mjj', 'interpolation-mj1',
      ...LHCO_FEATURES.map((f) => `background-${f}`), 'pseudo-data-mjj', 'pseudo-data-mj1', 'delta-nll-m_x-m_y', 'delta-nll-m_zprime-m_x',
      'training-loss-signal', 'training-loss-signal-2', 'training-loss-background',
    ];
    t.deepEqual(Object.keys(result.figures).sort(), [...expectedFigures].sort());
    for (const name of expectedFigures) {
      const png = await readFile(result.figures[name].pngPath);
      t.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${name}.png is a PNG`);
      t.true((await stat(result.figures[name].svgPath)).size > 0, `${name}.svg is written`);
      t.true(html.includes(`<figure id="${name}">`), `the report shows ${name}`);
    }
    t.deepEqual(result.parameters.map((p) => p.name), ['m_zprime', 'm_x', 'm_y']);
    for (const p of result.parameters) {
      t.true(Number.isFinite(p.value) && Number.isFinite(p.error) && p.error > 0, `${p.name} = ${p.value} ± ${p.error}`);
      t.is(p.pull, (p.value - p.truth) / p.error);
      // The two flows' training spread: each one's Newton step from the best fit, their spread over √2.
      const j = result.trainingSpread!.names.indexOf(p.name);
      const [a, b] = result.trainingSpread!.memberOffsets.map((o) => o[j]);
      t.true(Math.abs(p.trainingError! - Math.abs(a - b) / 2) <= 1e-9 * (Math.abs(a - b) + 1e-300), `${p.name}: σ_training ${p.trainingError} from offsets ${a}, ${b}`);
      t.is(p.pullWithTraining, (p.value - p.truth) / Math.hypot(p.error, p.trainingError!));
      t.log(`${p.name} = ${p.value.toFixed(2)} ± ${p.error.toPrecision(3)} (truth ${p.truth}, pull ${p.pull.toFixed(2)})`);
    }
    t.true(Number.isFinite(result.significance.z) && result.significance.z >= 0);
    for (const f of LHCO_FEATURES) {
      const ks = result.interpolation.excluded[f];
      t.true(ks.mean >= 0 && ks.mean <= ks.max && ks.max <= 1, `${f} KS ${ks.mean} ≤ ${ks.max}`);
    }
    t.log(`mjj KS at m_Z′ = ${result.interpolation.mZprime}: mean ${result.interpolation.excluded.mjj.mean.toFixed(4)}, max ${result.interpolation.excluded.mjj.max.toFixed(4)}`);
    const summary = JSON.parse(await readFile(result.summaryPath, 'utf8'));
    t.deepEqual(summary.parameters.map((p: { value: number }) => p.value), result.parameters.map((p) => p.value));
    t.is(summary.trainingSpread.memberOffsets.length, 2);
    t.true(html.includes('σ_training'), 'the fit table shows the training error');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
