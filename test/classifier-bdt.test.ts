// Boosted decision trees (trainer/src/classifier/boosted-trees.ts): the quantile binning against a sort, a
// one-feature step learnt exactly, two Gaussians against the exact likelihood ratio's AUC on the same test
// events, determinism given the seed, and the exported ONNX graph against the TypeScript evaluation.
import test from 'ava';
import { join } from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { ClassifierModel, Rng, aucWithError } from '@flowscan/runtime';
import { loadClassifier } from '@flowscan/runtime/node';
import erfc from '@stdlib/math-base-special-erfc';
import { binOf, quantileEdges } from '../trainer/src/classifier/binning.ts';
import { boostedTreesScores, trainBoostedTrees } from '../trainer/src/classifier/boosted-trees.ts';
import { boostedTreesScorer, exportBoostedTreesGraph, saveBoostedTrees } from '../trainer/src/classifier/boosted-trees-export.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-bdt-');

const features = (D: number) => Array.from({ length: D }, (_, d) => ({ name: `x${d}`, unit: '' }));

/** n events of a D-dimensional normal with unit covariance around `mean`, row-major. */
function gaussian(rng: Rng, n: number, mean: number[]): Float64Array {
  const D = mean.length;
  return Float64Array.from({ length: n * D }, (_, i) => mean[i % D] + rng.normal());
}

test('quantile bins: edge k has round(k·n/255) of the sorted values at or below it; few distinct values get one bin each', (t) => {
  const rng = new Rng(1);
  const n = 10_007;
  const values = Float32Array.from({ length: n }, () => rng.normal() * 3 + 1);
  const edges = quantileEdges(values);
  t.is(edges.length, 254);
  const sorted = Float32Array.from(values).sort();
  edges.forEach((edge, i) => {
    const k = i + 1;
    const below = sorted.findIndex((v) => v > edge);
    t.is(below, Math.round((k * n) / 255), `edge ${k}`);
    t.is(Math.fround(edge), edge);
  });
  // binOf counts the edges below a value: bin ≤ k exactly when x ≤ edge k.
  for (const v of values.subarray(0, 500)) t.is(binOf(edges, v), edges.filter((e) => e < v).length);

  const small = Float32Array.from({ length: 1000 }, (_, i) => (i * 7) % 10);
  const smallEdges = quantileEdges(small);
  t.deepEqual(Array.from(smallEdges), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5]);
  // Adjacent float32 values: the edge is the lower one (their midpoint rounds to the upper).
  const a = Math.fround(1);
  const b = Math.fround(1 + 2 ** -23);
  t.deepEqual(Array.from(quantileEdges(Float32Array.of(a, b, a, b))), [a]);
  t.throws(() => quantileEdges(values, 256), { message: /bins per feature must be an integer in \[2, 255\], got 256/ });
});

test('a one-feature step is learnt exactly: the root splits between the two values around it, every event is classified right', (t) => {
  // 200 distinct values, one bin each: the step at 0.37 falls between bins 74 (0.37) and 75 (0.375).
  const rng = new Rng(2);
  const u = Float64Array.from({ length: 4000 }, () => Math.floor(rng.uniform() * 200) / 200);
  const step = 0.37;
  const model = trainBoostedTrees({ x: u.filter((v) => v <= step) }, { x: u.filter((v) => v > step) }, { features: features(1), seed: 3 });
  const root = model.members[0].trees[0];
  t.true(root.threshold[0] >= Math.fround(0.37) && root.threshold[0] < Math.fround(0.375), `root threshold ${root.threshold[0]}`);
  const grid = Float64Array.from({ length: 200 }, (_, i) => i / 200);
  const { probability } = boostedTreesScores(model, grid, grid.length);
  grid.forEach((v, i) => t.is(probability[i] > 0.5, v > step, `x = ${v}: p = ${probability[i]}`));
});

test('two Gaussians in 3 dimensions: the AUC comes within 0.01 of the exact likelihood ratio on the same test events', (t) => {
  const rng = new Rng(4);
  const shift = [0.8, -0.6, 0];
  const n = 6000;
  const model = trainBoostedTrees({ x: gaussian(rng, n, [0, 0, 0]) }, { x: gaussian(rng, n, shift) }, { features: features(3), ensemble: 2, seed: 5 });
  const test0 = gaussian(rng, 20_000, [0, 0, 0]);
  const test1 = gaussian(rng, 20_000, shift);
  const bdt = [test0, test1].map((x) => boostedTreesScores(model, x, x.length / 3).logit);
  // The exact log-likelihood ratio of unit-covariance normals is linear: Δμ·x + const.
  const exact = [test0, test1].map((x) => Float64Array.from({ length: x.length / 3 }, (_, i) => shift.reduce((s, m, d) => s + m * x[3 * i + d], 0)));
  const aucBdt = aucWithError({ scores: bdt[1] }, { scores: bdt[0] }).auc;
  const aucExact = aucWithError({ scores: exact[1] }, { scores: exact[0] }).auc;
  // Bayes AUC Φ(|Δμ|/√2) = 0.760: the sample's exact-ratio AUC is within its statistical error of it.
  t.true(Math.abs(aucExact - 0.5 * erfc(-Math.hypot(...shift) / 2)) < 0.01, `exact ratio AUC ${aucExact}`);
  t.true(aucBdt > aucExact - 0.01 && aucBdt <= aucExact + 0.002, `BDT AUC ${aucBdt} against ${aucExact}`);
});

test('training is deterministic given the seed; another seed changes the validation splits and the trees', (t) => {
  const rng = new Rng(6);
  const x0 = { x: gaussian(rng, 1500, [0, 0]) };
  const x1 = { x: gaussian(rng, 1500, [0.5, 0.5]) };
  const train = (seed: number) => trainBoostedTrees(x0, x1, { features: features(2), ensemble: 3, seed, maxIterations: 30 });
  const strip = (m: ReturnType<typeof train>) => m.members.map((member) => ({ baseScore: member.baseScore, trees: member.trees, losses: member.history.map((h) => h.validationLoss) }));
  t.deepEqual(strip(train(7)), strip(train(7)));
  t.notDeepEqual(strip(train(7)), strip(train(8)));
  const members = strip(train(7));
  t.notDeepEqual(members[0].trees, members[1].trees, 'each model of the ensemble has its own training/validation split');
});

test('the ONNX graph scores as the TypeScript trees to float32 precision, also at the thresholds, in onnxruntime-node and onnxruntime-web (WASM); it saves and loads', async (t) => {
  const rng = new Rng(8);
  const model = trainBoostedTrees({ x: gaussian(rng, 3000, [0, 0, 0]) }, { x: gaussian(rng, 3000, [0.7, 0, -0.4]) }, { features: features(3), ensemble: 3, seed: 9, maxLeafNodes: 15 });
  const events = Array.from(gaussian(rng, 2000, [0.3, 0, -0.2]));
  // Events sitting exactly on split thresholds: the graph must send them left (x ≤ threshold) as the trees do.
  for (const tree of model.members[0].trees.slice(0, 20)) {
    if (tree.feature[0] >= 0) events.push(...[0, 0, 0].map((_, d) => (d === tree.feature[0] ? tree.threshold[0] : rng.normal())));
  }
  const x = Float32Array.from(events);
  const count = x.length / 3;
  const reference = boostedTreesScores(model, x, count);
  const scorer = await boostedTreesScorer(model);
  const graph = await scorer.score(x, count);
  await scorer.release();
  for (let i = 0; i < count; i++) {
    t.true(Math.abs(graph.probability[i] - reference.probability[i]) < 1e-6, `event ${i}: probability ${graph.probability[i]} against ${reference.probability[i]}`);
    t.true(Math.abs(graph.logit[i] - reference.logit[i]) < 1e-5 * (1 + Math.abs(reference.logit[i])), `event ${i}: logit ${graph.logit[i]} against ${reference.logit[i]}`);
  }
  const dir = join(folder(), 'bdt');
  const manifest = await saveBoostedTrees(model, dir, 'gaussians');
  t.like(manifest.network, { kind: 'boosted-trees', models: 3, maxLeafNodes: 15 });
  t.deepEqual(manifest.ensemble.epochs, model.members.map((m) => m.trees.length));
  const loaded = await loadClassifier(dir);
  t.deepEqual((await loaded.score(x, count)).logit, graph.logit);
  await loaded.release();
  // The browser's runtime: standard ops only, so the WASM build runs the same graph.
  ortWeb.env.wasm.numThreads = 1;
  const { manifest: inMemory, bytes } = exportBoostedTreesGraph(model, 'web');
  const web = await ClassifierModel.fromGraph(inMemory, bytes, ortWeb, ['wasm']);
  const webScores = await web.score(x, count);
  await web.release();
  for (let i = 0; i < count; i++) t.true(Math.abs(webScores.logit[i] - reference.logit[i]) < 1e-5 * (1 + Math.abs(reference.logit[i])), `event ${i}: WASM logit ${webScores.logit[i]} against ${reference.logit[i]}`);
});

test('bad options are refused with the value and what was expected', (t) => {
  const x = { x: Float64Array.of(0, 1, 2, 3) };
  const bad: [Record<string, number>, RegExp][] = [
    [{ maxIterations: 0 }, /boosting iterations must be a positive integer, got 0/],
    [{ learningRate: 1.5 }, /learning rate must be in \(0, 1\], got 1.5/],
    [{ maxLeafNodes: 1 }, /leaves per tree must be an integer ≥ 2, got 1/],
    [{ minSamplesLeaf: 0.5 }, /events per leaf must be a positive integer, got 0.5/],
    [{ l2: -1 }, /L2 penalty on leaf values must be ≥ 0, got -1/],
    [{ maxBins: 300 }, /bins per feature must be an integer in \[2, 255\], got 300/],
    [{ ensemble: 0 }, /ensemble must be a positive integer/],
  ];
  for (const [options, message] of bad) t.throws(() => trainBoostedTrees(x, x, { features: features(1), ...options }), { message });
});
