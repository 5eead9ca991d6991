// The shipped toy models (models/): they load with their checks, say where they came from, and still fit.
import test from 'ava';
import { join } from 'node:path';
import { MixtureLikelihood, Rng, fitLikelihood } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import * as toy from '../trainer/src/data/toy.ts';
import { REPO_ROOT, TOY_SIGNAL_FRACTION } from '../trainer/src/study/toy.ts';

test('the shipped toy models load, carry their provenance, and fit a tenth of the paper\'s pseudo-data', async (t) => {
  const signal = await loadModel(join(REPO_ROOT, 'models', 'toy-signal'), { ep: 'cpu' });
  const background = await loadModel(join(REPO_ROOT, 'models', 'toy-background'), { ep: 'cpu' });
  t.deepEqual(signal.parameterNames, ['m_pole', 'gamma']);
  t.deepEqual(background.parameterNames, ['tau']);
  for (const m of [signal, background]) {
    const p = m.manifest.provenance;
    t.regex(p.dataHash, /^[0-9a-f]{64}$/);
    t.true(p.events >= 100_000 && p.epochs >= 1 && Number.isFinite(p.validationLoss));
    t.regex(p.trainer, /^flowscan /);
  }
  // 100 signal + 10 000 background at the paper's point, a different seed from the study's pseudo-data.
  const data = toy.pseudoData(new Rng(77), { nSignal: 100, nBackground: 10000 });
  const likelihood = new MixtureLikelihood({
    components: [
      { name: 'signal', model: signal, fraction: TOY_SIGNAL_FRACTION },
      { name: 'background', model: background, fraction: 1 - TOY_SIGNAL_FRACTION },
    ],
    events: { x: Float64Array.from(data.x) },
    yields: 'fixed-fractions',
  });
  const fit = await fitLikelihood(likelihood, { start: { m_pole: 88, gamma: 3, tau: 0.012 }, starts: 1 });
  const value = (name: string) => fit.parameters.find((p) => p.name === name)!;
  t.log(fit.parameters.map((p) => `${p.name} = ${p.value.toPrecision(5)} ± ${p.error?.toPrecision(2)}`).join(', '));
  t.true(Math.abs(value('m_pole').value - 91.2) < 4 * value('m_pole').error!, 'M_pole within 4σ of the truth');
  t.true(Math.abs(value('tau').value - 0.01) < 4 * value('tau').error!, 'τ within 4σ of the truth');
  t.true(value('gamma').error! > 0);
  await signal.release();
  await background.release();
});
