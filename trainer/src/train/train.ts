// The training loop: maximum likelihood with Adam over shuffled mini-batches, a validation split, early
// stopping, a learning-rate schedule, gradient-norm clipping, per-event weights, checkpoints and resume.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@flowscan/runtime';
import { isThetaInputWeight } from '../flows/conditioner.ts';
import type { ModelDefinition } from '../flows/config.ts';
import { initialWeights, logProbGraph, parameterSpecs } from '../flows/graphs.ts';
import type { ParamSpec } from '../ir/graph.ts';
import { evaluateGraph } from '../ir/tfjs.ts';
import type { TrainingData } from './dataset.ts';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';

export type Schedule = 'plateau' | 'cosine' | 'constant';
export const SCHEDULES: readonly Schedule[] = ['plateau', 'cosine', 'constant'];

export interface TrainOptions {
  maxEpochs: number;
  batchSize: number;
  learningRate: number;
  /** Fraction of events held out for validation (early stopping, reported loss). */
  validationFraction: number;
  /** Epochs without validation improvement before stopping. */
  patience: number;
  schedule: Schedule;
  /** Global gradient-norm clip; 0 disables. */
  clipNorm: number;
  seed: number;
  /** Folder for per-epoch checkpoints (optional). */
  checkpointDir?: string;
  /** Continue from the checkpoint in checkpointDir. */
  resume?: boolean;
  /** Called after every epoch (progress display). */
  onEpoch?: (report: EpochReport) => void;
  /** Called after every batch with the fraction of the epoch done. */
  onBatch?: (epoch: number, fraction: number, loss: number) => void;
  /**
   * Simulator-backed training: the training events of every epoch after the first, drawn anew (deterministically
   * per epoch, so a resumed run sees the same events). The flow then never sees an event twice and its
   * θ-dependence is learned from maxEpochs × N distinct events; the validation split of the first data stays.
   */
  freshEvents?: (epoch: number) => TrainingData;
  /**
   * L2 penalty λ·Σw² (added to the mean NLL per event) on the weights that carry θ into the conditioner
   * networks' hidden units. Small weights keep the networks' response to θ close to linear, so a flow trained on
   * a grid of θ does not bend between the grid points; with the flow's linear θ path the linear part costs
   * nothing. On the LHCO-like grid (MAF signal flow) λ = 1e-3 took the m_J1J2 median at the left-out m_Z′ from
   * 18 to 3 GeV off at an unchanged validation NLL, while 1e-2 cost 0.05 nats/event; the spline flow (NSF) needs
   * 1e-2 and loses 0.004. 0 (the default) turns it off.
   */
  thetaWeightDecay: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  maxEpochs: 50,
  batchSize: 512,
  learningRate: 2e-3,
  validationFraction: 0.1,
  patience: 6,
  schedule: 'plateau',
  clipNorm: 5,
  seed: 1,
  thetaWeightDecay: 0,
};

export interface EpochReport {
  epoch: number;
  trainLoss: number;
  validationLoss: number;
  learningRate: number;
  eventsPerSecond: number;
  seconds: number;
  improved: boolean;
}

export interface TrainResult {
  weights: Map<string, Float32Array>;
  history: EpochReport[];
  bestEpoch: number;
  /** Mean weighted negative log-likelihood per event on the validation split (physical units). */
  validationLoss: number;
  epochs: number;
  stoppedBy: 'early-stopping' | 'max-epochs';
  eventsPerSecond: number;
  trainingEvents: number;
  validationEvents: number;
}

export class TrainingDivergedError extends Error {}

function validate(options: TrainOptions, data: TrainingData, def: ModelDefinition): void {
  const check = (ok: boolean, message: string): void => {
    if (!ok) throw new Error(message);
  };
  check(Number.isInteger(options.maxEpochs) && options.maxEpochs >= 1, `epochs must be a positive integer, got ${options.maxEpochs}`);
  check(Number.isInteger(options.batchSize) && options.batchSize >= 1, `batch size must be a positive integer, got ${options.batchSize}`);
  check(options.learningRate > 0 && options.learningRate < 1, `learning rate must be in (0, 1), got ${options.learningRate}`);
  check(options.validationFraction > 0 && options.validationFraction < 0.9, `validation fraction must be in (0, 0.9), got ${options.validationFraction}`);
  check(Number.isInteger(options.patience) && options.patience >= 1, `patience must be a positive integer, got ${options.patience}`);
  check(SCHEDULES.includes(options.schedule), `schedule must be one of ${SCHEDULES.join(', ')}, got ${options.schedule}`);
  check(options.clipNorm >= 0, `clip norm must be ≥ 0, got ${options.clipNorm}`);
  check(Number.isFinite(options.thetaWeightDecay) && options.thetaWeightDecay >= 0, `θ weight decay must be a number ≥ 0, got ${options.thetaWeightDecay}`);
  check(options.thetaWeightDecay === 0 || def.params.length > 0, 'θ weight decay needs a conditional flow: this one has no parameters θ');
  checkEvents(data, def.features.length, def.params.length, 'the training data');
  check(Math.floor(data.count * options.validationFraction) >= 1 && data.count >= 2, `${data.count} events are too few to split off a validation set`);
}

/** Adam (Kingma & Ba 2015) with explicit state, so checkpoints can save and restore it. */
class Adam {
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  step = 0;
  constructor(
    private readonly vars: tf.Variable[],
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = vars.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = vars.map((p) => tf.variable(tf.zerosLike(p), false));
  }
  apply(grads: tf.Tensor[], learningRate: number): void {
    this.step++;
    const c1 = 1 - this.beta1 ** this.step;
    const c2 = 1 - this.beta2 ** this.step;
    tf.tidy(() => {
      this.vars.forEach((p, i) => {
        const g = grads[i];
        this.m[i].assign(tf.add(tf.mul(this.m[i], this.beta1), tf.mul(g, 1 - this.beta1)));
        this.v[i].assign(tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        const update = tf.div(tf.div(this.m[i], c1), tf.add(tf.sqrt(tf.div(this.v[i], c2)), this.epsilon));
        p.assign(tf.sub(p, tf.mul(update, learningRate)));
      });
    });
  }
}

function readWeights(specs: ParamSpec[], vars: tf.Variable[]): Map<string, Float32Array> {
  return new Map(specs.map((s, i) => [s.name, Float32Array.from(vars[i].dataSync() as Float32Array)]));
}

function assignWeights(specs: ParamSpec[], vars: tf.Variable[], weights: Map<string, Float32Array>): void {
  specs.forEach((s, i) => vars[i].assign(tf.tensor(weights.get(s.name)!, [...s.shape])));
}

interface EventTensors {
  x: tf.Tensor2D;
  theta: tf.Tensor2D | null;
  w: tf.Tensor1D;
  count: number;
}

/** The events at `rows` (all when null) as tensors. */
function eventTensors(data: TrainingData, rows: Uint32Array | null, D: number, P: number): EventTensors {
  const count = rows ? rows.length : data.count;
  const pick = (values: Float32Array, width: number): Float32Array => {
    if (!rows) return values;
    const out = new Float32Array(count * width);
    rows.forEach((r, i) => out.set(values.subarray(r * width, (r + 1) * width), i * width));
    return out;
  };
  return {
    x: tf.tensor2d(pick(data.features, D), [count, D]),
    theta: P > 0 ? tf.tensor2d(pick(data.params, P), [count, P]) : null,
    w: tf.tensor1d(data.weights ? pick(data.weights, 1) : new Float32Array(count).fill(1)),
    count,
  };
}

function disposeEvents(events: EventTensors): void {
  tf.dispose([events.x, events.w, ...(events.theta ? [events.theta] : [])]);
}

/** Shapes and values of events handed to the trainer, with a message that names them when wrong. */
function checkEvents(data: TrainingData, D: number, P: number, what: string): void {
  const fail = (message: string): never => {
    throw new Error(`${what}: ${message}`);
  };
  if (!(Number.isInteger(data.count) && data.count >= 1)) fail(`expected at least one event, got count ${data.count}`);
  if (data.features.length !== data.count * D) fail(`features hold ${data.features.length} values, expected ${data.count}×${D}`);
  if (data.params.length !== data.count * P) fail(`parameters hold ${data.params.length} values, expected ${data.count}×${P}`);
  if (data.weights && data.weights.length !== data.count) fail(`weights hold ${data.weights.length} values, expected ${data.count}`);
  for (const [name, values] of [['feature', data.features], ['parameter', data.params], ['weight', data.weights ?? new Float32Array()]] as const) {
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(`${name} value ${bad + 1} is ${values[bad]}: training events must be finite`);
  }
}

/** Trains the flow by maximum likelihood. The model definition fixes architecture and preprocessing. */
export async function trainFlow(def: ModelDefinition, data: TrainingData, overrides: Partial<TrainOptions> = {}): Promise<TrainResult> {
  const options: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...overrides };
  validate(options, data, def);
  const D = def.features.length;
  const P = def.params.length;
  const rng = new Rng(options.seed);

  // Split once with the seed: the validation events never change across resumes.
  const order = new Uint32Array(data.count).map((_, i) => i);
  rng.shuffle(order);
  const nValidation = Math.floor(data.count * options.validationFraction);
  const trainIdx = order.subarray(nValidation);
  const validIdx = order.subarray(0, nValidation);

  const { graph, outputs } = logProbGraph(def);
  const specs = parameterSpecs(def);
  const init = initialWeights(specs, () => rng.uniform());
  if (options.resume && !options.checkpointDir) throw new Error('--resume needs the checkpoint folder (the --out of the interrupted run)');
  // Unnamed variables: tfjs names are global, and two trainings may run in one process.
  const vars = specs.map((s) => tf.variable(tf.tensor(init.get(s.name)!, [...s.shape]), true));
  const adam = new Adam(vars);

  const validation = eventTensors(data, validIdx, D, P);
  let training = eventTensors(data, trainIdx, D, P);

  const paramMap = (): Record<string, tf.Tensor> => Object.fromEntries(specs.map((s, i) => [s.name, vars[i]]));
  /** Weighted mean NLL of a batch, as a scalar tensor. */
  const batchLoss = (events: EventTensors, idx: tf.Tensor1D): tf.Scalar => {
    const inputs: Record<string, tf.Tensor> = { x: tf.gather(events.x, idx) };
    if (events.theta) inputs.theta = tf.gather(events.theta, idx);
    const [logProb] = evaluateGraph(graph, [outputs.log_prob.id], inputs, paramMap());
    const w = tf.gather(events.w, idx);
    return tf.div(tf.neg(tf.sum(tf.mul(logProb, w))), tf.sum(w)) as tf.Scalar;
  };
  const thetaWeights = vars.filter((_, i) => isThetaInputWeight(specs[i].name));
  const thetaPenalty =
    options.thetaWeightDecay > 0 ? (): tf.Scalar => tf.mul(options.thetaWeightDecay, tf.addN(thetaWeights.map((w) => tf.sum(tf.square(w))))) as tf.Scalar : null;
  const validationLoss = (): number => {
    let total = 0;
    let weight = 0;
    const chunk = 8192;
    for (let s = 0; s < validation.count; s += chunk) {
      const [sum, wsum] = tf.tidy(() => {
        const idx = tf.range(s, Math.min(s + chunk, validation.count), 1, 'int32') as tf.Tensor1D;
        const w = tf.gather(validation.w, idx);
        return [tf.mul(batchLoss(validation, idx), tf.sum(w)).dataSync()[0], tf.sum(w).dataSync()[0]];
      });
      total += sum;
      weight += wsum;
    }
    return total / weight;
  };

  let state: Checkpoint = {
    epoch: 0,
    learningRate: options.learningRate,
    bestValidationLoss: Infinity,
    bestEpoch: 0,
    epochsWithoutImprovement: 0,
    history: [],
    adamStep: 0,
  };
  let best = init;
  if (options.resume) {
    const loaded = await loadCheckpoint(options.checkpointDir!, specs).catch((error: unknown) => {
      disposeEvents(validation);
      disposeEvents(training);
      tf.dispose([...vars, ...adam.m, ...adam.v]);
      throw error;
    });
    state = loaded.state;
    assignWeights(specs, vars, loaded.weights);
    best = loaded.bestWeights;
    adam.step = state.adamStep;
    specs.forEach((s, i) => {
      adam.m[i].assign(tf.tensor(loaded.adamM.get(s.name)!, [...s.shape]));
      adam.v[i].assign(tf.tensor(loaded.adamV.get(s.name)!, [...s.shape]));
    });
  }

  let stoppedBy: TrainResult['stoppedBy'] = 'max-epochs';
  let trainingEvents = training.count;
  try {
    while (state.epoch < options.maxEpochs) {
      const epoch = state.epoch + 1;
      const started = performance.now();
      if (options.freshEvents && epoch > 1) {
        const fresh = options.freshEvents(epoch);
        checkEvents(fresh, D, P, `the fresh events of epoch ${epoch}`);
        disposeEvents(training);
        training = eventTensors(fresh, null, D, P);
        trainingEvents += fresh.count;
      }
      const batches = Math.ceil(training.count / options.batchSize);
      // A per-epoch stream: shuffles are reproducible and a resumed run continues identically.
      const epochOrder = new Uint32Array(training.count).map((_, i) => i);
      rng.fork(epoch).shuffle(epochOrder);
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        const slice = epochOrder.subarray(b * options.batchSize, Math.min((b + 1) * options.batchSize, epochOrder.length));
        // Cosine annealing per step, from the initial rate to zero after the last batch of the last epoch: the
        // final steps are small, so the weights settle instead of rattling at the last epoch's rate.
        if (options.schedule === 'cosine') {
          const progress = (epoch - 1 + b / batches) / options.maxEpochs;
          state.learningRate = 0.5 * options.learningRate * (1 + Math.cos(Math.PI * progress));
        }
        const loss = tf.tidy(() => {
          const idx = tf.tensor1d(Int32Array.from(slice), 'int32');
          let nll: tf.Scalar | null = null;
          const { grads } = tf.variableGrads(() => {
            nll = tf.keep(batchLoss(training, idx));
            return thetaPenalty ? tf.add(nll, thetaPenalty()) : nll;
          }, vars);
          const list = vars.map((v) => grads[v.name]);
          let clipped = list;
          if (options.clipNorm > 0) {
            const norm = tf.sqrt(tf.addN(list.map((g) => tf.sum(tf.square(g))))).dataSync()[0];
            if (norm > options.clipNorm) clipped = list.map((g) => tf.mul(g, options.clipNorm / norm));
          }
          const lossValue = nll!.dataSync()[0];
          nll!.dispose();
          if (Number.isFinite(lossValue)) adam.apply(clipped, state.learningRate);
          return lossValue;
        });
        if (!Number.isFinite(loss)) {
          throw new TrainingDivergedError(
            `training diverged: the loss became ${loss} at epoch ${epoch}, batch ${b + 1}/${batches}. ` +
              `No model is written. Lower --lr (now ${state.learningRate}) or --clip-norm, or check the data for ` +
              `outliers; with --out the last good epoch (${state.bestEpoch}) is in its checkpoint for --resume.`,
          );
        }
        lossSum += loss * slice.length;
        options.onBatch?.(epoch, (b + 1) / batches, loss);
      }
      const seconds = (performance.now() - started) / 1000;
      const vLoss = validationLoss();
      if (!Number.isFinite(vLoss)) {
        throw new TrainingDivergedError(`training diverged: validation loss is ${vLoss} after epoch ${epoch}`);
      }
      const improved = vLoss < state.bestValidationLoss - 1e-5;
      if (improved) {
        state.bestValidationLoss = vLoss;
        state.bestEpoch = epoch;
        state.epochsWithoutImprovement = 0;
        best = readWeights(specs, vars);
      } else {
        state.epochsWithoutImprovement++;
      }
      const report: EpochReport = {
        epoch,
        trainLoss: lossSum / training.count,
        validationLoss: vLoss,
        learningRate: state.learningRate,
        eventsPerSecond: training.count / seconds,
        seconds,
        improved,
      };
      state.history.push(report);
      state.epoch = epoch;
      // Reduce-on-plateau halves the rate after half the patience without improvement.
      if (options.schedule === 'plateau' && !improved && state.epochsWithoutImprovement % Math.max(1, Math.floor(options.patience / 2)) === 0) {
        state.learningRate *= 0.5;
      }
      state.adamStep = adam.step;
      if (options.checkpointDir) {
        await saveCheckpoint(options.checkpointDir, specs, state, {
          weights: readWeights(specs, vars),
          bestWeights: best,
          adamM: readWeights(specs, adam.m),
          adamV: readWeights(specs, adam.v),
        });
      }
      options.onEpoch?.(report);
      if (state.epochsWithoutImprovement >= options.patience) {
        stoppedBy = 'early-stopping';
        break;
      }
    }
  } finally {
    disposeEvents(validation);
    disposeEvents(training);
    tf.dispose([...vars, ...adam.m, ...adam.v]);
  }
  const history = state.history;
  const meanRate = history.reduce((s, h) => s + h.eventsPerSecond, 0) / Math.max(history.length, 1);
  return {
    weights: best,
    history,
    bestEpoch: state.bestEpoch,
    validationLoss: state.bestValidationLoss,
    epochs: state.epoch,
    stoppedBy,
    eventsPerSecond: meanRate,
    trainingEvents,
    validationEvents: validIdx.length,
  };
}
