// validate toy --asimov: the predicted shift of the flow fit from the exact fit on a large sample must be what the
// two fits actually give on that sample (an independent check: real minimisations against a linear prediction).
import test from 'ava';
import { join } from 'node:path';
import { Rng, fitLikelihood } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { REPO_ROOT, exactFit, toyPseudoData } from '../trainer/src/study/toy.ts';
import { asimovPoint, asimovSize } from '../trainer/src/validate/asimov.ts';
import { toyFlowLikelihood } from '../trainer/src/validate/toy.ts';
import { flowscan } from './helpers/commands.ts';

test('the predicted flow − exact shift matches the two fits on the same sample, where the flows are off', async (t) => {
  const load = (name: string) => loadModel(join(REPO_ROOT, 'models', name), { ep: 'cpu', threads: 1 });
  const models = { signal: await load('toy-signal'), background: await load('toy-background') };
  try {
    // A point where the shipped background flow misses τ by about −2.5σ (docs/validate.md), at half the paper's size.
    const point = { m_pole: 90, gamma: 2.75, tau: 0.0794 };
    const scale = 0.5;
    const seed = 7;
    const row = await asimovPoint(models, point, seed, scale);
    const x = toyPseudoData(new Rng(seed), point, asimovSize(scale));
    const likelihood = toyFlowLikelihood(models, x);
    const flow = await fitLikelihood(likelihood, { start: { ...point }, starts: 1, globalSearch: false });
    const exact = await exactFit(x, 'fixed-fractions', point);
    for (const name of ['m_pole', 'gamma', 'tau']) {
      const actual = flow.parameters.find((p) => p.name === name)!.value - exact.values[name];
      const sigma = exact.errors[name];
      t.log(name, row.shifts[name] / sigma, actual / sigma);
      // The prediction is linear in the shift and the fits stop within their tolerance (≈ 0.05σ): 0.2σ + 10 %.
      t.true(Math.abs(row.shifts[name] - actual) < 0.2 * sigma + 0.1 * Math.abs(actual), `${name}: predicted ${row.shifts[name]}, fits ${actual} (σ ${sigma})`);
    }
    t.true(row.pulls.tau < -1.5, `τ pull ${row.pulls.tau} (the flows' known miss at large τ)`);
    t.true(row.ratios.tau > 0.9 && row.ratios.tau < 1.2);
  } finally {
    await models.signal.release();
    await models.background.release();
  }
});

test('validate --asimov refuses what it does not take', async (t) => {
  const r = await flowscan(['validate', 'toy', '--asimov', '--experiments', '2', '--out', '/tmp/unused-asimov']);
  t.not(r.code, 0);
  t.regex(r.stderr, /--asimov goes with the toy reference/);
});
