// The named budgets of a fit's stages (FitOptions.budgets, issue 16 item 12): checked before any evaluation, and
// each stage's evaluate calls stay within its budget (one start: a call evaluates one point of that start).
import test from 'ava';
import { join } from 'node:path';
import { type FlowModel, MixtureLikelihood, Rng, fitLikelihood } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import * as toy from '../trainer/src/data/toy.ts';

const MODELS = join(import.meta.dirname, '..', 'models');
let models: { signal: FlowModel; background: FlowModel };
let likelihood: MixtureLikelihood;

test.before(async () => {
  const options = { ep: 'cpu', precision: 'float32' } as const;
  models = { signal: await loadModel(join(MODELS, 'toy-signal'), options), background: await loadModel(join(MODELS, 'toy-background'), options) };
  const data = toy.pseudoData(new Rng(5), { nSignal: 300, nBackground: 1700, mPole: 91.2, gamma: 2.5, tau: 0.01 });
  likelihood = new MixtureLikelihood({
    components: [
      { name: 'signal', model: models.signal, fraction: 0.15 },
      { name: 'background', model: models.background, fraction: 0.85 },
    ],
    events: { x: data.x },
    yields: 'fixed-fractions',
  });
});

test.after.always(async () => {
  await models?.signal.release();
  await models?.background.release();
});

test.serial('budgets that are not positive integers, or a stage-1 budget besides maxEvaluations, are refused before any evaluation', async (t) => {
  const runs = likelihood.graphRuns;
  await t.throwsAsync(fitLikelihood(likelihood, { budgets: { polishIterations: 0 } }), { message: 'the fit budget polishIterations must be a positive integer, got 0' });
  await t.throwsAsync(fitLikelihood(likelihood, { budgets: { screenIterations: 2.5 } }), { message: 'the fit budget screenIterations must be a positive integer, got 2.5' });
  await t.throwsAsync(fitLikelihood(likelihood, { maxEvaluations: 20, budgets: { stage1Evaluations: 30 } }), { message: /budgets\.stage1Evaluations \(30\) and maxEvaluations \(20\) disagree/ });
  t.is(likelihood.graphRuns, runs, 'nothing was evaluated');
});

test.serial('each stage spends at most its budget: stage 1, its continuation and the polish', async (t) => {
  const stages: Record<string, number> = {};
  const budgets = { continuationEvaluations: 3, polishEvaluations: 2 };
  // From far off, with a stage-1 budget too small to reach the minimum: the polish (and perhaps the continuation) must run.
  const fit = await fitLikelihood(likelihood, {
    start: { m_pole: 70, gamma: 4.5, tau: 0.05 },
    globalSearch: false,
    maxEvaluations: 4,
    budgets,
    onStage: (stage, calls) => (stages[stage] = (stages[stage] ?? 0) + calls),
  });
  t.log(JSON.stringify(stages), fit.reason);
  t.true(stages.fit <= 4, `stage 1: ${stages.fit} calls`);
  t.true((stages['fit (continued)'] ?? 0) <= budgets.continuationEvaluations, `continuation: ${stages['fit (continued)']} calls`);
  t.true('refine' in stages, 'the best start had not converged, so it was polished');
  t.true(stages.refine <= budgets.polishEvaluations, `polish: ${stages.refine} calls`);
  t.false(fit.converged, 'six evaluations from far off do not converge');
  t.regex(fit.warnings.join('\n'), /maxEvaluations = 4 per start/);
});
