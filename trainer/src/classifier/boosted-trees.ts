// A binary classifier of histogram-based gradient-boosted decision trees (the scheme of LightGBM and
// scikit-learn's HistGradientBoostingClassifier): features binned into ≤ 255 quantile bins of the training
// events (binning.ts), the weighted logistic loss with class balance, trees grown leaf-wise on the loss's
// gradients and hessians (tree.ts), shrinkage by the learning rate, and early stopping on a stratified
// validation split. With few signal events — weakly supervised anomaly detection on the LHCO R&D data — tree
// ensembles are more sample-efficient and more stable between trainings than neural networks, and robust to
// uninformative features (Finke, Krämer, Mück, Tönshoff, PRD 109 (2024) 034033, arXiv:2309.13111).
//
// `ensemble` models, each on its own random training/validation split of the same events (seed fork k), are
// averaged in probability, as the MLP's ensemble of epochs is (docs/classifier.md).
import { createHash } from 'node:crypto';
import { type ClassifierEpoch, type ClassifierManifest, Rng } from '@flowscan/runtime';
import { TRAINER_VERSION } from '../train/saved-model.ts';
import { MAX_BINS, binEvents, quantileEdges } from './binning.ts';
import { type ClassEvents, type ClassifierOptions, check, checkFeaturesAndClasses, crossEntropy, featureRanges, labelledTable, stratifiedSplit } from './train.ts';
import { type Tree, growTree, treeValue } from './tree.ts';

export interface BoostedTreesOptions {
  features: ClassifierOptions['features'];
  classes: [string, string];
  /** Boosting iterations at most (one tree each). */
  maxIterations: number;
  learningRate: number;
  maxLeafNodes: number;
  minSamplesLeaf: number;
  /** L2 penalty on leaf values (in units of the hessian sum). */
  l2: number;
  /** Quantile bins per feature, ≤ 255. */
  maxBins: number;
  validationFraction: number;
  /** Iterations without a lower validation loss before training stops; the model keeps the best iteration's trees. */
  patience: number;
  /** Models averaged, each on its own random training/validation split. */
  ensemble: number;
  /** Scale each class's weights to half of the total (see ClassifierOptions.balance). */
  balance: boolean;
  seed: number;
  dataFiles?: string[];
  /** Called after every iteration of every model (progress). */
  onIteration?: (model: number, report: ClassifierEpoch) => void;
}

/** scikit-learn's HistGradientBoostingClassifier defaults, with a 20 % validation split as the MLP's. */
export const DEFAULT_BOOSTED_TREES_OPTIONS: BoostedTreesOptions = {
  features: [],
  classes: ['background', 'signal'],
  maxIterations: 200,
  learningRate: 0.1,
  maxLeafNodes: 31,
  minSamplesLeaf: 20,
  l2: 0,
  maxBins: MAX_BINS,
  validationFraction: 0.2,
  patience: 10,
  ensemble: 1,
  balance: true,
  seed: 1,
};

/** One boosted model: raw score F(x) = baseScore + Σ trees' leaf values; P(label 1 | x) = σ(F). */
export interface BoostedModel {
  baseScore: number;
  trees: Tree[];
  /** Iterations run (trees grown before early stopping); `trees` keeps the first `bestIteration`. */
  iterations: number;
  bestIteration: number;
  validationLoss: number;
  stoppedBy: 'early-stopping' | 'max-iterations';
  history: ClassifierEpoch[];
  trainingEvents: number;
  validationEvents: number;
}

export interface TrainedBoostedTrees {
  kind: 'boosted-trees';
  features: { name: string; unit: string; range: [number, number] }[];
  classes: [string, string];
  settings: Pick<BoostedTreesOptions, 'maxIterations' | 'learningRate' | 'maxLeafNodes' | 'minSamplesLeaf' | 'l2' | 'maxBins' | 'validationFraction' | 'patience'>;
  members: BoostedModel[];
  provenance: Pick<ClassifierManifest['provenance'], 'dataHash' | 'dataFiles' | 'events' | 'classWeights' | 'seed' | 'date' | 'trainer'>;
}

function checkOptions(o: BoostedTreesOptions): void {
  checkFeaturesAndClasses(o);
  check(Number.isInteger(o.maxIterations) && o.maxIterations >= 1, `boosting iterations must be a positive integer, got ${o.maxIterations}`);
  check(o.learningRate > 0 && o.learningRate <= 1, `the boosting learning rate must be in (0, 1], got ${o.learningRate}`);
  check(Number.isInteger(o.maxLeafNodes) && o.maxLeafNodes >= 2, `leaves per tree must be an integer ≥ 2, got ${o.maxLeafNodes}`);
  check(Number.isInteger(o.minSamplesLeaf) && o.minSamplesLeaf >= 1, `events per leaf must be a positive integer, got ${o.minSamplesLeaf}`);
  check(Number.isFinite(o.l2) && o.l2 >= 0, `the L2 penalty on leaf values must be ≥ 0, got ${o.l2}`);
  check(Number.isInteger(o.maxBins) && o.maxBins >= 2 && o.maxBins <= MAX_BINS, `bins per feature must be an integer in [2, ${MAX_BINS}], got ${o.maxBins}`);
  check(o.validationFraction > 0 && o.validationFraction < 0.9, `validation fraction must be in (0, 0.9), got ${o.validationFraction}`);
  check(Number.isInteger(o.patience) && o.patience >= 1, `patience must be a positive integer, got ${o.patience}`);
  check(Number.isInteger(o.ensemble) && o.ensemble >= 1, `ensemble must be a positive integer (models averaged), got ${o.ensemble}`);
  check(Number.isSafeInteger(o.seed), `seed must be an integer, got ${o.seed}`);
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** The raw score F(x) of one model for event i of x [count, D]. */
export function boostedRawScore(model: BoostedModel, x: ArrayLike<number>, D: number, i: number): number {
  let f = model.baseScore;
  for (const tree of model.trees) f += treeValue(tree, x, i * D);
  return f;
}

/**
 * The ensemble's scores in float64: the members' mean probability p̄ = (1/K) Σ σ(F_k) and its logit
 * log p̄/(1 − p̄) = log Σ σ(F_k) − log Σ σ(−F_k) (exact where p̄ rounds to 1). The reference for the ONNX graph.
 */
export function boostedTreesScores(model: TrainedBoostedTrees, x: ArrayLike<number>, count: number): { probability: Float64Array; logit: Float64Array } {
  const D = model.features.length;
  if (x.length !== count * D) throw new Error(`events hold ${x.length} values, expected ${count} events × ${D} features`);
  const probability = new Float64Array(count);
  const logit = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let positive = 0;
    let negative = 0;
    for (const member of model.members) {
      const f = boostedRawScore(member, x, D, i);
      positive += sigmoid(f);
      negative += sigmoid(-f);
    }
    probability[i] = positive / model.members.length;
    logit[i] = Math.log(positive) - Math.log(negative);
  }
  return { probability, logit };
}

interface Table {
  x: Float32Array;
  y: Float32Array;
  w: Float32Array;
  D: number;
}

/** One model on its own training/validation split of the table. */
function boostOne(table: Table, o: BoostedTreesOptions, member: number, counts: [number, number]): BoostedModel {
  const { x, y, w, D } = table;
  const rng = new Rng(o.seed).fork(member);
  const { trainRows, validRows } = stratifiedSplit(rng, counts, o.validationFraction);
  const edges = Array.from({ length: D }, (_, d) => quantileEdges(Float32Array.from(trainRows, (r) => x[r * D + d]), o.maxBins));
  const bins = binEvents(x, D, edges);
  const n = y.length;
  // Initial score: the log-odds of the weighted training classes (0 with class balance).
  let w1 = 0;
  let w0 = 0;
  for (const r of trainRows) {
    if (y[r] === 1) w1 += w[r];
    else w0 += w[r];
  }
  if (!(w0 > 0 && w1 > 0)) throw new Error(`model ${member + 1}'s training split has no weight in one class (label 0: ${w0}, label 1: ${w1})`);
  const baseScore = Math.log(w1 / w0);
  const raw = new Float64Array(n).fill(baseScore);
  const gradient = new Float64Array(n);
  const hessian = new Float64Array(n);
  const validY = Float32Array.from(validRows, (r) => y[r]);
  const validW = Float32Array.from(validRows, (r) => w[r]);
  const trainY = Float32Array.from(trainRows, (r) => y[r]);
  const trainW = Float32Array.from(trainRows, (r) => w[r]);
  const lossOn = (rows: Uint32Array, labels: Float32Array, weights: Float32Array): number => crossEntropy(Float64Array.from(rows, (r) => sigmoid(raw[r])), labels, weights);
  const rows = Uint32Array.from(trainRows);
  const trees: Tree[] = [];
  const history: ClassifierEpoch[] = [];
  // The first tree is always kept (a model is never the bare prior), later ones when they lower the validation loss.
  let bestLoss = Infinity;
  let bestIteration = 0;
  let stoppedBy: BoostedModel['stoppedBy'] = 'max-iterations';
  for (let iteration = 1; iteration <= o.maxIterations; iteration++) {
    const started = performance.now();
    // Logistic loss ℓ = w (softplus(F) − y F): g = w (σ(F) − y), h = w σ(F)(1 − σ(F)).
    for (const r of trainRows) {
      const p = sigmoid(raw[r]);
      gradient[r] = w[r] * (p - y[r]);
      hessian[r] = w[r] * p * (1 - p);
    }
    const { tree, leafRanges } = growTree({ bins, edges, gradient, hessian }, rows, o);
    trees.push(tree);
    for (const [start, end, node] of leafRanges) for (let i = start; i < end; i++) raw[rows[i]] += tree.value[node];
    for (const r of validRows) raw[r] += treeValue(tree, x, r * D);
    const validationLoss = lossOn(validRows, validY, validW);
    const report = { epoch: iteration, trainLoss: lossOn(trainRows, trainY, trainW), validationLoss, seconds: (performance.now() - started) / 1000 };
    history.push(report);
    o.onIteration?.(member, report);
    if (validationLoss < bestLoss - 1e-9) {
      bestLoss = validationLoss;
      bestIteration = iteration;
    } else if (iteration - bestIteration >= o.patience) {
      stoppedBy = 'early-stopping';
      break;
    }
  }
  return {
    baseScore,
    trees: trees.slice(0, bestIteration),
    iterations: history.length,
    bestIteration,
    validationLoss: bestLoss,
    stoppedBy,
    history,
    trainingEvents: trainRows.length,
    validationEvents: validRows.length,
  };
}

/**
 * Trains boosted trees of label 1 (x1) against label 0 (x0). Every option not given takes its default
 * (DEFAULT_BOOSTED_TREES_OPTIONS); `features` is required. Deterministic given the seed.
 */
export function trainBoostedTrees(x0: ClassEvents, x1: ClassEvents, overrides: Partial<BoostedTreesOptions> & Pick<BoostedTreesOptions, 'features'>): TrainedBoostedTrees {
  const o: BoostedTreesOptions = { ...DEFAULT_BOOSTED_TREES_OPTIONS, ...overrides };
  checkOptions(o);
  const D = o.features.length;
  const table = labelledTable(x0, x1, o);
  const members = Array.from({ length: o.ensemble }, (_, k) => boostOne({ ...table, D }, o, k, table.counts));
  const ranges = featureRanges(table.x, D);
  const hash = createHash('sha256');
  for (const a of [table.x, table.y, ...table.eventWeights.map((e) => Float32Array.from(e))]) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return {
    kind: 'boosted-trees',
    features: o.features.map((f, d) => ({ name: f.name, unit: f.unit, range: ranges[d] })),
    classes: o.classes,
    settings: {
      maxIterations: o.maxIterations,
      learningRate: o.learningRate,
      maxLeafNodes: o.maxLeafNodes,
      minSamplesLeaf: o.minSamplesLeaf,
      l2: o.l2,
      maxBins: o.maxBins,
      validationFraction: o.validationFraction,
      patience: o.patience,
    },
    members,
    provenance: {
      dataHash: hash.digest('hex'),
      ...(o.dataFiles ? { dataFiles: o.dataFiles } : {}),
      events: table.counts,
      classWeights: table.classWeights,
      seed: o.seed,
      date: new Date().toISOString(),
      trainer: TRAINER_VERSION,
    },
  };
}
