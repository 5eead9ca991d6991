// One training run end to end: data in, model definition, engine (and TensorFlow.js backend), training with
// progress, saved model.
import { availableParallelism } from 'node:os';
import { type BackendChoice, selectBackend } from './backend.ts';
import { type EngineChoice, resolveEngine } from './engine.ts';
import { type TrainingData, type VariableDeclaration, dataHash, defineModel } from './dataset.ts';
import { type TrainedModel, TRAINER_VERSION, saveTrainedModel } from './saved-model.ts';
import { type TrainOptions, trainFlow } from './train.ts';
import type { FlowConfig } from '../flows/config.ts';
import { type Progress, progressBar } from '../cli/progress.ts';

export interface TrainRunOptions {
  label: string;
  data: TrainingData;
  dataFiles: string[];
  features: VariableDeclaration[];
  params: VariableDeclaration[];
  flow: FlowConfig;
  train: Partial<TrainOptions>;
  /** TensorFlow.js backend (tfjs engine); naming one other than 'auto' makes `engine: 'auto'` pick tfjs. */
  backend?: BackendChoice;
  /** What computes the training steps (engine.ts); default 'auto'. */
  engine?: EngineChoice;
  /** onnxruntime intra-op threads (default: one per core). */
  threads?: number;
  /** Folder for the trained model and its checkpoints. */
  out?: string;
  quiet?: boolean;
  /** Where the epoch bar goes (default: a bar on stderr); a training in a worker thread forwards it. */
  progress?: (label: string, total: number) => Progress;
}

export async function runTraining(o: TrainRunOptions): Promise<TrainedModel> {
  const say = (line: string): void => {
    if (!o.quiet) process.stderr.write(`${line}\n`);
  };
  const choice = o.engine ?? 'auto';
  resolveEngine(choice); // refuses a bad name before any backend starts
  // The TensorFlow.js backend decides `auto` (tfjs-node → tfjs); onnxruntime needs none.
  const tfjs = choice === 'onnxruntime' ? null : await selectBackend(o.backend ?? 'auto');
  const engine = resolveEngine(choice, (o.backend ?? 'auto') !== 'auto');
  const threads = o.threads ?? availableParallelism();
  const tfjsNote = tfjs ? `TensorFlow.js backend "${tfjs.backend}"${tfjs.skipped.length ? ` (skipped: ${tfjs.skipped.join('; ')})` : ''}` : '';
  if (engine === 'tfjs') say(`${o.label}: training engine tfjs, ${tfjsNote}`);
  else say(`${o.label}: training engine onnxruntime (CPU, ${threads} intra-op thread${threads === 1 ? '' : 's'})${tfjs ? `; ${tfjsNote} is not native, so not used` : ''}`);
  const definition = defineModel(o.data, o.features, o.params, o.flow);
  const maxEpochs = o.train.maxEpochs ?? 50;
  const bar = o.quiet ? null : (o.progress ?? progressBar)(o.label, maxEpochs);
  let epochStart = 0;
  const result = await trainFlow(definition, o.data, {
    ...o.train,
    engine,
    threads,
    ...(o.out ? { checkpointDir: o.out } : {}),
    onBatch: (epoch, fraction, loss) => {
      epochStart = epoch - 1;
      bar?.update(epochStart + fraction, { epoch, loss: loss.toFixed(4) });
    },
    onEpoch: (r) =>
      bar?.update(r.epoch, {
        epoch: r.epoch,
        loss: r.trainLoss.toFixed(4),
        'val loss': r.validationLoss.toFixed(4),
        'events/s': Math.round(r.eventsPerSecond),
        lr: r.learningRate.toExponential(1),
      }),
  });
  bar?.stop();
  say(
    `${o.label}: ${result.epochs} epochs (${result.stoppedBy}), best epoch ${result.bestEpoch}, validation NLL ` +
      `${result.validationLoss.toFixed(4)} nats/event, ${Math.round(result.eventsPerSecond)} events/s on ${result.engine}`,
  );
  const model: TrainedModel = {
    definition,
    weights: result.weights,
    history: result.history,
    provenance: {
      dataHash: dataHash(o.data),
      dataFiles: o.dataFiles,
      events: o.data.count,
      trainingEvents: result.trainingEvents,
      validationEvents: result.validationEvents,
      epochs: result.epochs,
      bestEpoch: result.bestEpoch,
      validationLoss: result.validationLoss,
      backend: result.engine,
      seed: o.train.seed ?? 1,
      date: new Date().toISOString(),
      trainer: TRAINER_VERSION,
    },
  };
  if (o.out) await saveTrainedModel(o.out, model);
  return model;
}
