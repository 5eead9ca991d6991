// Mass localisation pieces: the simulated search's regions, CATHODE's kernel density of the signal-region m and
// sampling a conditional flow at given m (against the known conditional mean it was trained on).
import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { sampleDensity, trainDensity } from '../trainer/src/anomaly/density.ts';
import { emptyEvents } from '../trainer/src/anomaly/events.ts';
import { SIMULATOR_SIGNAL_REGION, kernelDensitySample, simulateSearch } from '../trainer/src/anomaly/localisation.ts';
import { flowConfig } from '../trainer/src/flows/config.ts';

test('the simulated search splits the spectrum into signal region and sidebands, with a labelled signal-region test', (t) => {
  const sizes = { background: 4000, signal: 200, testBackground: 300, testSignal: 100 };
  const a = simulateSearch(5, sizes);
  const b = simulateSearch(5, sizes);
  const [lo, hi] = SIMULATOR_SIGNAL_REGION;
  t.true(a.signalRegion.m.every((m) => m >= lo && m <= hi));
  t.true(a.sidebands.m.every((m) => m < lo || m > hi));
  t.is(a.signalRegion.count + a.sidebands.count, 4200);
  t.true(a.test.m.every((m) => m >= lo && m <= hi));
  t.is(a.test.label.filter((l) => l === 0).length, 300);
  t.true(a.test.label.filter((l) => l === 1).length > 50, 'most benchmark signal lies in the signal region');
  // Most injected signal sits in the signal region, hardly any in the sidebands.
  const srSignal = a.signalRegion.label.reduce((s, l) => s + l, 0);
  t.true(srSignal > 0.6 * 200, `${srSignal} of 200 signal events in the signal region`);
  t.deepEqual(a.test.x, b.test.x);
});

test('kernel density draws stay in the window and follow the values with the kernel added', (t) => {
  const rng = new Rng(3);
  const values = Float64Array.from({ length: 5000 }, () => rng.normal());
  const draws = kernelDensitySample(values, 40_000, [-10, 10], rng);
  const mean = draws.reduce((a, v) => a + v, 0) / draws.length;
  const variance = draws.reduce((a, v) => a + (v - mean) ** 2, 0) / draws.length;
  const h = 1.06 * 5000 ** -0.2;
  t.true(Math.abs(mean) < 0.03, `mean ${mean}`);
  t.true(Math.abs(variance - (1 + h * h)) < 0.05, `variance ${variance} against ${1 + h * h}`);
  const clipped = kernelDensitySample(values, 2000, [0, 0.5], rng);
  t.true(clipped.every((m) => m >= 0 && m <= 0.5));
  t.throws(() => kernelDensitySample(Float64Array.of(1), 3, [0, 2], rng), { message: /at least 2 values, got 1/ });
});

test('samples of a conditional density at given m follow the conditional mean it was trained on', async (t) => {
  // x | m ~ N(2m, 0.2²), m uniform in (0, 1).
  const rng = new Rng(9);
  const n = 4000;
  const events = emptyEvents(['x'], n);
  for (let i = 0; i < n; i++) {
    events.m[i] = rng.uniform();
    events.x[i] = 2 * events.m[i] + 0.2 * rng.normal();
  }
  const model = await trainDensity(events, { flow: flowConfig('maf', { blocks: 2, hidden: 16 }), conditioning: 'm', train: { maxEpochs: 25, batchSize: 128, learningRate: 3e-3, seed: 1, threads: 1 }, margin: 0.3 });
  for (const m of [0.2, 0.8]) {
    const x = await sampleDensity(model, new Float64Array(3000).fill(m), rng);
    const mean = x.reduce((a, v) => a + v, 0) / x.length;
    const sd = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length);
    t.true(Math.abs(mean - 2 * m) < 0.08, `m = ${m}: mean ${mean}`);
    t.true(Math.abs(sd - 0.2) < 0.06, `m = ${m}: sd ${sd}`);
  }
  const unconditional = await trainDensity(events, { flow: flowConfig('maf', { blocks: 1, hidden: 8 }), conditioning: 'none', train: { maxEpochs: 1, seed: 1, threads: 1 } });
  await t.throwsAsync(sampleDensity(unconditional, Float64Array.of(0.5), rng), { message: /needs a conditional density/ });
});
