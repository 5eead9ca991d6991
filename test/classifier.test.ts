// The classifier (trainer/src/classifier): its training step's gradients against finite differences of a float64
// reference, the Bayes-optimal limit on two Gaussians, the exported ensemble graph against a plain float64
// forward pass of the stored weights, and k-fold scoring that never scores an event with a model that saw it.
import test from 'ava';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Rng, aucWithError } from '@flowscan/runtime';
import { loadClassifier } from '@flowscan/runtime/node';
import erfc from '@stdlib/math-base-special-erfc';
import { initialWeights } from '../trainer/src/flows/graphs.ts';
import { emitOnnx } from '../trainer/src/ir/onnx.ts';
import { type NetworkSpec, classifierStep, kFoldScores, saveClassifier, trainClassifier } from '../trainer/src/classifier/index.ts';
import { gradName } from '../trainer/src/train/step-graph.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-classifier-');

/** Standard normal CDF. */
const Phi = (z: number): number => 0.5 * erfc(-z / Math.SQRT2);

/** n events of a D-dimensional normal with unit covariance around `mean`, row-major. */
function gaussian(rng: Rng, n: number, mean: number[]): Float64Array {
  const D = mean.length;
  return Float64Array.from({ length: n * D }, (_, i) => mean[i % D] + rng.normal());
}

/** A plain float64 forward pass: the logit of one network from its weights (the reference for every ONNX graph). */
function referenceLogit(spec: NetworkSpec, weights: ReadonlyMap<string, ArrayLike<number>>, event: ArrayLike<number>): number {
  let h = Array.from(event, (v, d) => (v - spec.standardisation[d].mean) / spec.standardisation[d].std);
  const widths = [spec.features, ...spec.hidden, 1];
  for (let l = 0; l + 1 < widths.length; l++) {
    const W = weights.get(`layer${l}.W`)!;
    const b = weights.get(`layer${l}.b`)!;
    const next = Array.from({ length: widths[l + 1] }, (_, j) => h.reduce((s, hi, i) => s + hi * W[i * widths[l + 1] + j], b[j]));
    const last = l + 2 === widths.length;
    h = last ? next : next.map((a) => (spec.activation === 'relu' ? Math.max(a, 0) : a / (1 + Math.exp(-a))));
  }
  return h[0];
}

const softplus = (z: number): number => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));

test('the training step: loss and every weight gradient equal a float64 reference and its finite differences', async (t) => {
  const spec: NetworkSpec = { features: 3, hidden: [5, 4], activation: 'silu', standardisation: [{ mean: 1, std: 2 }, { mean: -3, std: 0.5 }, { mean: 0, std: 1 }] };
  const step = classifierStep(spec);
  const outputs: Record<string, number> = { loss: step.loss.id };
  step.specs.forEach((s, i) => (outputs[gradName(s.name)] = step.grads[i].id));
  const session = await ort.InferenceSession.create(emitOnnx(step.graph, { name: 'step', outputs, weights: 'inputs', precision: 'float64' }));
  const rng = new Rng(3);
  const weights = new Map([...initialWeights(step.specs, () => rng.uniform())].map(([k, v]) => [k, Float64Array.from(v, (a) => a + 0.1 * rng.normal())]));
  const N = 23;
  const x = Float64Array.from({ length: N * 3 }, () => 2 * rng.normal());
  const y = Float64Array.from({ length: N }, () => (rng.uniform() < 0.4 ? 1 : 0));
  const w = Float64Array.from({ length: N }, () => rng.uniform() * 2);
  const referenceLoss = (): number => {
    let total = 0;
    for (let i = 0; i < N; i++) {
      const z = referenceLogit(spec, weights, x.subarray(i * 3, i * 3 + 3));
      total += w[i] * (softplus(z) - y[i] * z);
    }
    return total / w.reduce((a, b) => a + b, 0);
  };
  const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float64', x, [N, 3]), y: new ort.Tensor('float64', y, [N]), w: new ort.Tensor('float64', w, [N]) };
  for (const s of step.specs) feeds[s.name] = new ort.Tensor('float64', weights.get(s.name)!, [...s.shape]);
  const out = await session.run(feeds);
  t.true(Math.abs((out.loss.data as Float64Array)[0] - referenceLoss()) < 1e-12);
  const h = 1e-6;
  for (const s of step.specs) {
    const grad = out[gradName(s.name)].data as Float64Array;
    const values = weights.get(s.name)!;
    for (let i = 0; i < values.length; i++) {
      const keep = values[i];
      values[i] = keep + h;
      const up = referenceLoss();
      values[i] = keep - h;
      const down = referenceLoss();
      values[i] = keep;
      t.true(Math.abs(grad[i] - (up - down) / (2 * h)) < 1e-7, `${s.name}[${i}]: ${grad[i]} vs ${(up - down) / (2 * h)}`);
    }
  }
  await session.release();
});

test('two Gaussians: the classifier reaches the Bayes AUC Φ(Δ/√2) and its logit the log-likelihood ratio', async (t) => {
  // Unit covariance, means 0 and μ: the optimal score is the log-likelihood ratio μ·x − |μ|²/2 and its AUC is
  // Φ(|μ|/√2) (the ratio is normal with variance |μ|² under both classes, means ±|μ|²/2).
  const mu = [1, 0.5];
  const distance = Math.hypot(...mu);
  const rng = new Rng(11);
  const nTrain = 4000;
  // Unequal sample sizes: the class balance must make the logit the likelihood ratio anyway.
  const { model } = await trainClassifier(
    { x: gaussian(rng, nTrain, [0, 0]) },
    { x: gaussian(rng, nTrain / 2, mu) },
    { features: [{ name: 'a', unit: '' }, { name: 'b', unit: '' }], hidden: [32, 32], maxEpochs: 40, patience: 6, ensemble: 3, seed: 5 },
  );
  const dir = join(folder(), 'gaussians');
  await saveClassifier(model, dir, 'gaussians');
  const classifier = await loadClassifier(dir);
  const nTest = 20000;
  const test0 = gaussian(rng, nTest, [0, 0]);
  const test1 = gaussian(rng, nTest, mu);
  const [s0, s1] = [await classifier.score(test0, nTest), await classifier.score(test1, nTest)];
  const llr = (x: Float64Array): Float64Array => Float64Array.from({ length: nTest }, (_, i) => mu[0] * x[2 * i] + mu[1] * x[2 * i + 1] - distance ** 2 / 2);
  const learned = aucWithError({ scores: s1.logit }, { scores: s0.logit });
  const bayes = aucWithError({ scores: llr(test1) }, { scores: llr(test0) });
  const analytic = Phi(distance / Math.SQRT2);
  t.log(`AUC: classifier ${learned.auc.toFixed(4)} ± ${learned.standardError.toFixed(4)}, Bayes on the same events ${bayes.auc.toFixed(4)}, analytic ${analytic.toFixed(4)}`);
  // On the same events the optimal score can only be better; the classifier may lose a little.
  t.true(bayes.auc - learned.auc < 0.005 && learned.auc - bayes.auc < 0.002);
  t.true(Math.abs(learned.auc - analytic) < 3 * learned.standardError + 0.005);
  // The logit against the true log-likelihood ratio where the events are (|LLR| < 2).
  const truth = llr(test0);
  let deviation = 0;
  let count = 0;
  truth.forEach((r, i) => {
    if (Math.abs(r) < 2) {
      deviation += Math.abs(s0.logit[i] - r);
      count++;
    }
  });
  t.log(`mean |logit − log-likelihood ratio| = ${(deviation / count).toFixed(3)} over ${count} events`);
  t.true(deviation / count < 0.15);
  await classifier.release();
});

test('the exported ensemble equals the mean of its members\u2019 float64 forward passes, and holds the best epochs', async (t) => {
  const rng = new Rng(2);
  const { model, history } = await trainClassifier(
    { x: gaussian(rng, 300, [0, 0, 0]), weights: Float64Array.from({ length: 300 }, () => 0.5 + rng.uniform()) },
    { x: gaussian(rng, 200, [0.5, 0, 1]) },
    { features: ['p', 'q', 'r'].map((name) => ({ name, unit: 'GeV' })), hidden: [8, 6], activation: 'silu', maxEpochs: 8, patience: 8, ensemble: 3, batchSize: 32, seed: 4 },
  );
  const lowest = [...history].sort((a, b) => a.validationLoss - b.validationLoss).slice(0, 3);
  t.deepEqual(model.members.map((m) => m.epoch), lowest.map((h) => h.epoch));
  const dir = join(folder(), 'ensemble');
  const manifest = await saveClassifier(model, dir, 'ensemble');
  t.deepEqual(manifest.ensemble.epochs, model.members.map((m) => m.epoch));
  t.is(manifest.provenance.history.length, history.length);
  const classifier = await loadClassifier(dir);
  const n = 50;
  const x = Float64Array.from({ length: n * 3 }, () => 3 * rng.normal());
  const scores = await classifier.score(x, n);
  for (let i = 0; i < n; i++) {
    const logits = model.members.map((m) => referenceLogit(model.network, m.weights, x.subarray(3 * i, 3 * i + 3)));
    const p = logits.reduce((s, z) => s + 1 / (1 + Math.exp(-z)), 0) / logits.length;
    t.true(Math.abs(scores.probability[i] - p) < 1e-5, `event ${i}: ${scores.probability[i]} vs ${p}`);
    t.true(Math.abs(scores.logit[i] - Math.log(p / (1 - p))) < 1e-4 * Math.max(1, Math.abs(Math.log(p / (1 - p)))), `event ${i}: logit ${scores.logit[i]}`);
  }
  await classifier.release();
});

test('k-fold: every event is scored once, by the model that did not train on it, with that model\u2019s score', async (t) => {
  const rng = new Rng(8);
  const [n0, n1] = [203, 151];
  const x0 = gaussian(rng, n0, [0, 0]);
  const x1 = gaussian(rng, n1, [1, 1]);
  const folds = 3;
  const result = await kFoldScores({ x: x0 }, { x: x1 }, folds, { features: [{ name: 'a', unit: '' }, { name: 'b', unit: '' }], hidden: [8], maxEpochs: 3, seed: 2 });
  t.is(result.folds.length, folds);
  for (const [c, n] of [[0, n0], [1, n1]]) {
    const scoredBy = new Int32Array(n).fill(-1);
    result.folds.forEach((f, j) => {
      const trained = new Set(f.trainedOn[c]);
      for (const i of f.scored[c]) {
        t.false(trained.has(i), `class ${c} event ${i} scored by fold ${j}, which trained on it`);
        t.is(scoredBy[i], -1, `class ${c} event ${i} scored twice`);
        scoredBy[i] = j;
        t.is(result.fold[c][i], j);
      }
      t.is(f.trainedOn[c].length + f.scored[c].length, n);
      t.is(f.model.provenance.events[c], f.trainedOn[c].length);
    });
    t.true(scoredBy.every((j) => j >= 0));
  }
  // Each held-out score is the fold model's own: recompute with a plain forward pass of its members.
  for (const c of [0, 1]) {
    const x = [x0, x1][c];
    result.folds.forEach((f) => {
      for (const i of f.scored[c].slice(0, 5)) {
        const z = referenceLogit(f.model.network, f.model.members[0].weights, x.subarray(2 * i, 2 * i + 2));
        t.true(Math.abs(result.scores[c].logit[i] - z) < 1e-4 * Math.max(1, Math.abs(z)));
      }
    });
  }
});

test('bad inputs get messages that name the value', async (t) => {
  const x = new Float64Array(20);
  const features = [{ name: 'a', unit: '' }, { name: 'b', unit: '' }];
  await t.throwsAsync(trainClassifier({ x: new Float64Array(3) }, { x }, { features }), { message: /3 values do not split into events of 2 features/ });
  await t.throwsAsync(trainClassifier({ x: Float64Array.of(1, 2, NaN, 4) }, { x }, { features }), { message: /event 2, feature 1 is NaN/ });
  await t.throwsAsync(trainClassifier({ x }, { x }, { features, hidden: [0] }), { message: /hidden layers must be .* got \[0\]/ });
  await t.throwsAsync(trainClassifier({ x }, { x }, { features, ensemble: 200 }), { message: /ensemble must be an integer in \[1, epochs = 100\], got 200/ });
  await t.throwsAsync(kFoldScores({ x }, { x }, 9, { features }), { message: /folds must be an integer in \[2, 5\]/ });
});

test('training is repeatable: the same seed gives the same network, another seed another', async (t) => {
  const rng = new Rng(6);
  const x0 = { x: gaussian(rng, 150, [0, 0]) };
  const x1 = { x: gaussian(rng, 150, [1, 0]) };
  const options = { features: [{ name: 'a', unit: '' }, { name: 'b', unit: '' }], hidden: [8], maxEpochs: 3 };
  const [first, again, other] = await Promise.all([1, 1, 2].map((seed) => trainClassifier(x0, x1, { ...options, seed })));
  t.deepEqual(again.history.map((h) => h.validationLoss), first.history.map((h) => h.validationLoss));
  t.deepEqual([...again.model.members[0].weights], [...first.model.members[0].weights]);
  t.notDeepEqual(other.history.map((h) => h.validationLoss), first.history.map((h) => h.validationLoss));
});
