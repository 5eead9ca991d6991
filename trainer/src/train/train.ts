// The training loop: maximum likelihood with Adam over shuffled mini-batches, a validation split, early
// stopping, a learning-rate schedule, gradient-norm clipping, per-event weights, checkpoints and resume.
import { availableParallelism } from 'node:os';
import { Rng } from '@flowscan/runtime';
import type { ModelDefinition } from '../flows/config.ts';
import { initialWeights, parameterSpecs } from '../flows/graphs.ts';
import { type TrainingData, dataHash } from './dataset.ts';
import { type Checkpoint, type RunIdentity, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { type EngineChoice, type TrainingEngine, eventArrays, resolveEngine } from './engine.ts';
import { onnxEngine } from './onnx-step.ts';
import { tfjsEngine } from './tfjs-engine.ts';

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
  /**
   * What computes the steps (engine.ts): 'tfjs', 'onnxruntime', or 'auto' (tfjs on tfjs-node, onnxruntime
   * otherwise). Both train the same model from the same initial weights on the same batches.
   */
  engine: EngineChoice;
  /** onnxruntime intra-op threads (default: one per core); 1 when several trainings run side by side. */
  threads?: number;
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
  engine: 'auto',
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
  /** What ran the training, e.g. "onnxruntime-cpu" or "tfjs-wasm" (the model's provenance records it). */
  engine: string;
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
  resolveEngine(options.engine); // refuses an unknown engine name
  check(options.threads === undefined || (Number.isInteger(options.threads) && options.threads >= 1), `threads must be a positive integer, got ${options.threads}`);
  checkEvents(data, def.features.length, def.params.length, 'the training data');
  check(Math.floor(data.count * options.validationFraction) >= 1 && data.count >= 2, `${data.count} events are too few to split off a validation set`);
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

  const specs = parameterSpecs(def);
  const init = initialWeights(specs, () => rng.uniform());
  if (options.resume && !options.checkpointDir) throw new Error('--resume needs the checkpoint folder (the --out of the interrupted run)');
  // What a checkpoint was written for: a resumed run on other events, or with another validation split, would mix
  // two trainings (issue 16).
  const run: RunIdentity = { dataHash: options.checkpointDir ? dataHash(data) : '', seed: options.seed, validationFraction: options.validationFraction };
  const setup = {
    def,
    specs,
    init,
    validation: eventArrays(data, validIdx, D, P),
    training: eventArrays(data, trainIdx, D, P),
    clipNorm: options.clipNorm,
    thetaWeightDecay: options.thetaWeightDecay,
  };
  const engine: TrainingEngine =
    resolveEngine(options.engine) === 'tfjs'
      ? tfjsEngine(setup)
      : await onnxEngine({ ...setup, batchSize: options.batchSize, threads: options.threads ?? availableParallelism() });

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
    const loaded = await loadCheckpoint(options.checkpointDir!, specs, run).catch(async (error: unknown) => {
      await engine.dispose();
      throw error;
    });
    state = loaded.state;
    engine.restore(loaded.weights, { step: state.adamStep, m: loaded.adamM, v: loaded.adamV });
    best = loaded.bestWeights;
  }

  let stoppedBy: TrainResult['stoppedBy'] = 'max-epochs';
  let trainingEvents = setup.training.count;
  let trainingCount = setup.training.count;
  try {
    while (state.epoch < options.maxEpochs) {
      const epoch = state.epoch + 1;
      const started = performance.now();
      if (options.freshEvents && epoch > 1) {
        const fresh = options.freshEvents(epoch);
        checkEvents(fresh, D, P, `the fresh events of epoch ${epoch}`);
        engine.setTraining(eventArrays(fresh, null, D, P));
        trainingCount = fresh.count;
        trainingEvents += fresh.count;
      }
      const batches = Math.ceil(trainingCount / options.batchSize);
      // A per-epoch stream: shuffles are reproducible and a resumed run continues identically.
      const epochOrder = new Uint32Array(trainingCount).map((_, i) => i);
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
        const loss = await engine.step(slice, state.learningRate);
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
      const vLoss = await engine.validationLoss();
      if (!Number.isFinite(vLoss)) {
        throw new TrainingDivergedError(`training diverged: validation loss is ${vLoss} after epoch ${epoch}`);
      }
      const improved = vLoss < state.bestValidationLoss - 1e-5;
      if (improved) {
        state.bestValidationLoss = vLoss;
        state.bestEpoch = epoch;
        state.epochsWithoutImprovement = 0;
        best = engine.weights();
      } else {
        state.epochsWithoutImprovement++;
      }
      const report: EpochReport = {
        epoch,
        trainLoss: lossSum / trainingCount,
        validationLoss: vLoss,
        learningRate: state.learningRate,
        eventsPerSecond: trainingCount / seconds,
        seconds,
        improved,
      };
      state.history.push(report);
      state.epoch = epoch;
      // Reduce-on-plateau halves the rate after half the patience without improvement.
      if (options.schedule === 'plateau' && !improved && state.epochsWithoutImprovement % Math.max(1, Math.floor(options.patience / 2)) === 0) {
        state.learningRate *= 0.5;
      }
      const adam = engine.adamState();
      state.adamStep = adam.step;
      if (options.checkpointDir) {
        await saveCheckpoint(options.checkpointDir, specs, run, state, { weights: engine.weights(), bestWeights: best, adamM: adam.m, adamV: adam.v });
      }
      options.onEpoch?.(report);
      if (state.epochsWithoutImprovement >= options.patience) {
        stoppedBy = 'early-stopping';
        break;
      }
    }
  } finally {
    await engine.dispose();
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
    engine: engine.label,
  };
}
