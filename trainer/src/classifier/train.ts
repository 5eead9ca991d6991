// Training a binary classifier (label 0 vs label 1) on the onnxruntime engine: the IR's training step
// (network.ts) emitted once as ONNX with the weights as graph inputs, Adam in JavaScript (train/adam.ts), a
// stratified validation split for early stopping, and the networks of the epochs with the lowest validation loss
// kept for the ensemble (CATHODE, Hallin et al., PRD 106 (2022) 055006, averages the 10 best of 100 epochs).
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { type ClassifierEpoch, type ClassifierManifest, Rng } from '@flowscan/runtime';
import { initialWeights } from '../flows/graphs.ts';
import type { ParamSpec } from '../ir/graph.ts';
import { emitOnnx } from '../ir/onnx.ts';
import { adamUpdate } from '../train/adam.ts';
import { sessionOptions } from '../train/onnx-step.ts';
import { gradName } from '../train/step-graph.ts';
import { TRAINER_VERSION } from '../train/saved-model.ts';
import { CLASSIFIER_ACTIVATIONS, type ClassifierActivation, type NetworkSpec, classifierStep } from './network.ts';

/** One class's events: row-major [count, D] in physical units, optionally weighted. */
export interface ClassEvents {
  x: Float32Array | Float64Array;
  /** Per-event weights (default 1): finite, ≥ 0. */
  weights?: ArrayLike<number>;
}

export interface ClassifierOptions {
  /** The D features, in the column order of the events. */
  features: { name: string; unit: string }[];
  /** Names of label 0 and label 1 (the probability is that of label 1). */
  classes: [string, string];
  /** Width of each hidden layer. */
  hidden: number[];
  activation: ClassifierActivation;
  maxEpochs: number;
  batchSize: number;
  learningRate: number;
  /** Fraction of each class held out for validation (early stopping, choice of the ensemble's epochs). */
  validationFraction: number;
  /** Epochs without a lower validation loss before training stops. */
  patience: number;
  /** How many epochs' networks to average: those with the lowest validation loss (1: the best epoch alone). */
  ensemble: number;
  /**
   * Scale each class's weights so both classes carry half of the total weight: the loss is then minimised by
   * p(x) = p₁(x)/(p₀(x) + p₁(x)) with p_k the class densities, so p/(1 − p) estimates the likelihood ratio p₁/p₀
   * whatever the sample sizes.
   */
  balance: boolean;
  seed: number;
  /** onnxruntime intra-op threads. */
  threads: number;
  /** Files the events came from (provenance). */
  dataFiles?: string[];
  /** Called after every epoch (progress). */
  onEpoch?: (report: ClassifierEpoch) => void;
}

/** Defaults after the CATHODE classifier: 3 × 64 ReLU, Adam at 1e-3, batches of 128, up to 100 epochs. */
export const DEFAULT_CLASSIFIER_OPTIONS: ClassifierOptions = {
  features: [],
  classes: ['background', 'signal'],
  hidden: [64, 64, 64],
  activation: 'relu',
  maxEpochs: 100,
  batchSize: 128,
  learningRate: 1e-3,
  validationFraction: 0.2,
  patience: 10,
  ensemble: 1,
  balance: true,
  seed: 1,
  threads: 1,
};

/** One epoch's network, kept for the ensemble. */
export interface EnsembleMember {
  epoch: number;
  validationLoss: number;
  weights: Map<string, Float32Array>;
}

export interface TrainedClassifier {
  network: NetworkSpec;
  features: { name: string; unit: string; range: [number, number] }[];
  classes: [string, string];
  /** Lowest validation loss first. */
  members: EnsembleMember[];
  /** Binary cross-entropy of the members' averaged probability on the validation split. */
  ensembleValidationLoss: number;
  provenance: ClassifierManifest['provenance'];
}

/** Events per validation call: bounds the memory of the forward pass. */
const VALIDATION_CHUNK = 8192;

/** Throws `message` unless `ok`. */
export function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/** The options every classifier kind shares: features and class names. */
export function checkFeaturesAndClasses(o: Pick<ClassifierOptions, 'features' | 'classes'>): void {
  check(o.features.length >= 1, 'the classifier needs at least one feature (options.features is empty)');
  const duplicate = o.features.find((f, i) => o.features.findIndex((g) => g.name === f.name) !== i);
  check(!duplicate, `feature "${duplicate?.name}" is named twice`);
  check(o.classes.length === 2 && o.classes.every((c) => c.length > 0) && o.classes[0] !== o.classes[1], `classes must be two different non-empty names, got [${o.classes.join(', ')}]`);
}

function checkOptions(o: ClassifierOptions): void {
  checkFeaturesAndClasses(o);
  check(o.hidden.length >= 1 && o.hidden.every((h) => Number.isInteger(h) && h >= 1), `hidden layers must be a non-empty list of positive integers, got [${o.hidden.join(', ')}]`);
  check(CLASSIFIER_ACTIVATIONS.includes(o.activation), `activation must be one of ${CLASSIFIER_ACTIVATIONS.join(', ')}, got "${o.activation}"`);
  check(Number.isInteger(o.maxEpochs) && o.maxEpochs >= 1, `epochs must be a positive integer, got ${o.maxEpochs}`);
  check(Number.isInteger(o.batchSize) && o.batchSize >= 1, `batch size must be a positive integer, got ${o.batchSize}`);
  check(o.learningRate > 0 && o.learningRate < 1, `learning rate must be in (0, 1), got ${o.learningRate}`);
  check(o.validationFraction > 0 && o.validationFraction < 0.9, `validation fraction must be in (0, 0.9), got ${o.validationFraction}`);
  check(Number.isInteger(o.patience) && o.patience >= 1, `patience must be a positive integer, got ${o.patience}`);
  check(Number.isInteger(o.ensemble) && o.ensemble >= 1 && o.ensemble <= o.maxEpochs, `ensemble must be an integer in [1, epochs = ${o.maxEpochs}], got ${o.ensemble}`);
  check(Number.isSafeInteger(o.seed), `seed must be an integer, got ${o.seed}`);
}

/** A class's events checked against D features; returns its event count and weights. */
export function checkClass(events: ClassEvents, D: number, what: string): { count: number; weights: Float64Array } {
  const fail = (message: string): never => {
    throw new Error(`${what}: ${message}`);
  };
  const count = events.x.length / D;
  if (!Number.isInteger(count)) fail(`${events.x.length} values do not split into events of ${D} features`);
  if (count < 2) fail(`${count} events; each class needs at least 2 (one to train on, one to validate)`);
  const bad = events.x.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) fail(`event ${Math.floor(bad / D) + 1}, feature ${(bad % D) + 1} is ${events.x[bad]}: training events must be finite`);
  const weights = new Float64Array(count).fill(1);
  if (events.weights) {
    if (events.weights.length !== count) fail(`${events.weights.length} weights for ${count} events`);
    for (let i = 0; i < count; i++) {
      const w = events.weights[i];
      if (!(Number.isFinite(w) && w >= 0)) fail(`weight ${i + 1} is ${w}; weights must be finite and ≥ 0`);
      weights[i] = w;
    }
    if (!(weights.reduce((a, w) => a + w, 0) > 0)) fail('the weights sum to 0');
  }
  return { count, weights };
}

/** Per-feature mean and standard deviation over the given rows (a constant feature gets std 1). */
function standardisation(x: Float32Array, rows: Uint32Array, D: number): { mean: number; std: number }[] {
  return Array.from({ length: D }, (_, d) => {
    let sum = 0;
    let squares = 0;
    for (const r of rows) {
      sum += x[r * D + d];
      squares += x[r * D + d] ** 2;
    }
    const mean = sum / rows.length;
    const std = Math.sqrt(Math.max(squares / rows.length - mean * mean, 0));
    return { mean, std: std > 0 ? std : 1 };
  });
}

/** Weighted mean binary cross-entropy of probabilities p against labels y (float64, clamped away from 0 and 1). */
export function crossEntropy(p: Float64Array, y: Float32Array, w: Float32Array): number {
  let total = 0;
  let weight = 0;
  p.forEach((pi, i) => {
    const q = Math.min(Math.max(y[i] === 1 ? pi : 1 - pi, 1e-300), 1);
    total -= w[i] * Math.log(q);
    weight += w[i];
  });
  return total / weight;
}

/** The ONNX step graph (loss and gradients) and forward graph (logit), both with the weights as inputs. */
function stepModels(spec: NetworkSpec): { step: Uint8Array; forward: Uint8Array; specs: ParamSpec[] } {
  const sg = classifierStep(spec);
  const outputs: Record<string, number> = { loss: sg.loss.id };
  sg.specs.forEach((s, i) => (outputs[gradName(s.name)] = sg.grads[i].id));
  return {
    step: emitOnnx(sg.graph, { name: 'classifier_step', outputs, weights: 'inputs' }),
    forward: emitOnnx(sg.graph, { name: 'classifier_logit', outputs: { logit: sg.logit.id }, weights: 'inputs' }),
    specs: sg.specs,
  };
}

/** Both classes in one table, label 0 first: events, labels, and weights with the class weights applied. */
export interface LabelledTable {
  x: Float32Array;
  y: Float32Array;
  w: Float32Array;
  counts: [number, number];
  classWeights: [number, number];
  /** The events' own weights (1 when none were given), per class. */
  eventWeights: [Float64Array, Float64Array];
}

export function labelledTable(x0: ClassEvents, x1: ClassEvents, o: Pick<ClassifierOptions, 'features' | 'classes' | 'balance'>): LabelledTable {
  const D = o.features.length;
  const classes = [checkClass(x0, D, `${o.classes[0]} events (label 0)`), checkClass(x1, D, `${o.classes[1]} events (label 1)`)];
  const counts: [number, number] = [classes[0].count, classes[1].count];
  const x = new Float32Array((counts[0] + counts[1]) * D);
  x.set(x0.x, 0);
  x.set(x1.x, counts[0] * D);
  const y = new Float32Array(counts[0] + counts[1]).fill(1, counts[0]);
  const totals = classes.map((c) => c.weights.reduce((a, b) => a + b, 0));
  const balanced = (c: number): number => (totals[0] + totals[1]) / (2 * totals[c]);
  const classWeights: [number, number] = o.balance ? [balanced(0), balanced(1)] : [1, 1];
  const w = new Float32Array(counts[0] + counts[1]);
  classes.forEach((c, label) => c.weights.forEach((v, i) => (w[label * counts[0] + i] = v * classWeights[label])));
  return { x, y, w, counts, classWeights, eventWeights: [classes[0].weights, classes[1].weights] };
}

/** Rows of the table for training and validation: each class gives the same fraction (at least one event) to validation. */
export function stratifiedSplit(rng: Rng, counts: [number, number], fraction: number): { trainRows: Uint32Array; validRows: Uint32Array } {
  const shuffled = [rng.shuffle(new Uint32Array(counts[0]).map((_, i) => i)), rng.shuffle(new Uint32Array(counts[1]).map((_, i) => counts[0] + i))];
  const held = shuffled.map((order) => Math.max(1, Math.floor(order.length * fraction)));
  const trainRows = new Uint32Array(counts[0] + counts[1] - held[0] - held[1]);
  const validRows = new Uint32Array(held[0] + held[1]);
  trainRows.set(shuffled[0].subarray(held[0]));
  trainRows.set(shuffled[1].subarray(held[1]), counts[0] - held[0]);
  validRows.set(shuffled[0].subarray(0, held[0]));
  validRows.set(shuffled[1].subarray(0, held[1]), held[0]);
  return { trainRows, validRows };
}

/** [min, max] of each feature over all events. */
export function featureRanges(x: Float32Array, D: number): [number, number][] {
  return Array.from({ length: D }, (_, d): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = d; i < x.length; i += D) {
      lo = Math.min(lo, x[i]);
      hi = Math.max(hi, x[i]);
    }
    return [lo, hi];
  });
}

/**
 * Trains a classifier of label 1 (x1) against label 0 (x0). Every option not given takes its default
 * (DEFAULT_CLASSIFIER_OPTIONS); `features` is required. Returns the model (the ensemble of the best epochs) and
 * the per-epoch losses.
 */
export async function trainClassifier(
  x0: ClassEvents,
  x1: ClassEvents,
  overrides: Partial<ClassifierOptions> & Pick<ClassifierOptions, 'features'>,
): Promise<{ model: TrainedClassifier; history: ClassifierEpoch[] }> {
  const o: ClassifierOptions = { ...DEFAULT_CLASSIFIER_OPTIONS, ...overrides };
  checkOptions(o);
  const D = o.features.length;
  const table = labelledTable(x0, x1, o);
  const { x, y, w } = table;
  const rng = new Rng(o.seed);
  const { trainRows, validRows } = stratifiedSplit(rng, table.counts, o.validationFraction);
  const ranges = featureRanges(x, D);
  const network: NetworkSpec = { features: D, hidden: o.hidden, activation: o.activation, standardisation: standardisation(x, trainRows, D) };
  const models = stepModels(network);
  const options = sessionOptions(o.threads);
  const stepSession = await ort.InferenceSession.create(models.step, options);
  const forwardSession = await ort.InferenceSession.create(models.forward, options).catch(async (error: unknown) => {
    await stepSession.release();
    throw error;
  });

  const specs = models.specs;
  const weights = initialWeights(specs, () => rng.uniform());
  const m = new Map(specs.map((s) => [s.name, new Float32Array(weights.get(s.name)!.length)]));
  const v = new Map(specs.map((s) => [s.name, new Float32Array(weights.get(s.name)!.length)]));
  const weightFeeds = Object.fromEntries(specs.map((s) => [s.name, new ort.Tensor('float32', weights.get(s.name)!, [...s.shape])]));

  const bx = new Float32Array(o.batchSize * D);
  const by = new Float32Array(o.batchSize);
  const bw = new Float32Array(o.batchSize);
  const gather = (rows: Uint32Array): number => {
    rows.forEach((r, i) => {
      bx.set(x.subarray(r * D, (r + 1) * D), i * D);
      by[i] = y[r];
      bw[i] = w[r];
    });
    return rows.length;
  };
  const validY = Float32Array.from(validRows, (r) => y[r]);
  const validW = Float32Array.from(validRows, (r) => w[r]);
  const validX = new Float32Array(validRows.length * D);
  validRows.forEach((r, i) => validX.set(x.subarray(r * D, (r + 1) * D), i * D));
  const validationProbability = async (): Promise<Float64Array> => {
    const p = new Float64Array(validRows.length);
    for (let s = 0; s < validRows.length; s += VALIDATION_CHUNK) {
      const e = Math.min(validRows.length, s + VALIDATION_CHUNK);
      const out = await forwardSession.run({ ...weightFeeds, x: new ort.Tensor('float32', validX.subarray(s * D, e * D), [e - s, D]) });
      (out.logit.data as Float32Array).forEach((z, i) => (p[s + i] = 1 / (1 + Math.exp(-z))));
    }
    return p;
  };

  const history: ClassifierEpoch[] = [];
  /** The best epochs so far, lowest validation loss first, with their validation probabilities. */
  const best: (EnsembleMember & { probability: Float64Array })[] = [];
  let bestLoss = Infinity;
  let bestEpoch = 0;
  let sinceImprovement = 0;
  let stoppedBy: ClassifierManifest['provenance']['stoppedBy'] = 'max-epochs';
  let adamStep = 0;
  try {
    for (let epoch = 1; epoch <= o.maxEpochs; epoch++) {
      const started = performance.now();
      const order = rng.fork(epoch).shuffle(Uint32Array.from(trainRows));
      let lossSum = 0;
      for (let b = 0; b < order.length; b += o.batchSize) {
        const n = gather(order.subarray(b, Math.min(order.length, b + o.batchSize)));
        const out = await stepSession.run({
          ...weightFeeds,
          x: new ort.Tensor('float32', bx.subarray(0, n * D), [n, D]),
          y: new ort.Tensor('float32', by.subarray(0, n), [n]),
          w: new ort.Tensor('float32', bw.subarray(0, n), [n]),
        });
        const loss = (out.loss.data as Float32Array)[0];
        // A batch whose events all have weight 0 has no loss (0/0) and nothing to learn.
        if (Number.isNaN(loss) && bw.subarray(0, n).every((wi) => wi === 0)) continue;
        if (!Number.isFinite(loss)) throw new Error(`classifier training diverged: the loss became ${loss} at epoch ${epoch}; lower the learning rate (now ${o.learningRate})`);
        adamStep++;
        for (const s of specs) adamUpdate(weights.get(s.name)!, out[gradName(s.name)].data as Float32Array, m.get(s.name)!, v.get(s.name)!, adamStep, o.learningRate);
        lossSum += loss * n;
      }
      const probability = await validationProbability();
      const validationLoss = crossEntropy(probability, validY, validW);
      const report: ClassifierEpoch = { epoch, trainLoss: lossSum / order.length, validationLoss, seconds: (performance.now() - started) / 1000 };
      history.push(report);
      o.onEpoch?.(report);
      if (best.length < o.ensemble || validationLoss < best[best.length - 1].validationLoss) {
        best.push({ epoch, validationLoss, weights: new Map([...weights].map(([k, a]) => [k, Float32Array.from(a)])), probability });
        best.sort((a, b) => a.validationLoss - b.validationLoss);
        best.length = Math.min(best.length, o.ensemble);
      }
      if (validationLoss < bestLoss - 1e-5) {
        bestLoss = validationLoss;
        bestEpoch = epoch;
        sinceImprovement = 0;
      } else if (++sinceImprovement >= o.patience) {
        stoppedBy = 'early-stopping';
        break;
      }
    }
  } finally {
    await stepSession.release();
    await forwardSession.release();
  }

  const averaged = new Float64Array(validRows.length);
  for (const member of best) member.probability.forEach((p, i) => (averaged[i] += p / best.length));
  const hash = createHash('sha256');
  for (const a of [x, y, ...table.eventWeights.map((e) => Float32Array.from(e))]) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const model: TrainedClassifier = {
    network,
    features: o.features.map((f, d) => ({ name: f.name, unit: f.unit, range: ranges[d] })),
    classes: o.classes,
    members: best.map(({ epoch, validationLoss, weights }) => ({ epoch, validationLoss, weights })),
    ensembleValidationLoss: crossEntropy(averaged, validY, validW),
    provenance: {
      dataHash: hash.digest('hex'),
      ...(o.dataFiles ? { dataFiles: o.dataFiles } : {}),
      events: table.counts,
      trainingEvents: trainRows.length,
      validationEvents: validRows.length,
      classWeights: table.classWeights,
      epochs: history.length,
      bestEpoch,
      stoppedBy,
      history,
      seed: o.seed,
      date: new Date().toISOString(),
      trainer: TRAINER_VERSION,
    },
  };
  return { model, history };
}
