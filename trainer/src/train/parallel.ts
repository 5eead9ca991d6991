// Several trainings at once, one per worker thread. TensorFlow.js on WebAssembly (and on plain JavaScript) uses
// one core, so a study's independent flows train side by side on a multi-core machine; the native backend is
// multi-threaded by itself, and with it (or one core) the trainings run one after another in this thread.
// onnxruntime trainings side by side share the cores: each worker gets its share of intra-op threads.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Progress, multiProgress } from '../cli/progress.ts';
import { selectBackend } from './backend.ts';
import { type TrainRunOptions, runTraining } from './run.ts';
import type { TrainedModel } from './saved-model.ts';

/**
 * A training described so another thread can set it up: `module` (a file URL) exports `name`, which returns the
 * run's options (data, flow, and any simulator closures) from the structured-cloneable `args`.
 */
export interface TrainingJob {
  module: string;
  name: string;
  args: unknown[];
}

export type JobFactory = (...args: never[]) => TrainRunOptions | Promise<TrainRunOptions>;

/** Messages a training worker posts back. */
export type WorkerMessage =
  | { kind: 'bar'; label: string; total: number }
  | { kind: 'update'; done: number; fields?: Record<string, string | number> }
  | { kind: 'log'; line: string }
  | { kind: 'done'; model: TrainedModel }
  | { kind: 'failed'; message: string };

/** What a training worker is started with. */
export interface WorkerJob {
  job: TrainingJob;
  /** onnxruntime intra-op threads of this worker: the cores shared among the trainings side by side. */
  threads: number;
}

export async function jobOptions(job: TrainingJob): Promise<TrainRunOptions> {
  const module = (await import(job.module)) as Record<string, unknown>;
  const factory = module[job.name];
  if (typeof factory !== 'function') throw new Error(`${job.module} does not export a training job "${job.name}"`);
  return (factory as (...args: unknown[]) => TrainRunOptions | Promise<TrainRunOptions>)(...job.args);
}

function trainInWorker(job: TrainingJob, threads: number, bars: ReturnType<typeof multiProgress>, running: Set<Worker>): Promise<TrainedModel> {
  // From the sources, a JavaScript entry that registers the TypeScript loader, then runs train-worker.ts; from
  // the build (scripts/build.ts), the built worker itself.
  const workerData: WorkerJob = { job, threads };
  const entry = import.meta.url.endsWith('.ts') ? './train-worker.mjs' : './train-worker.js';
  const worker = new Worker(new URL(entry, import.meta.url), { workerData });
  running.add(worker);
  let bar: Progress | null = null;
  return new Promise<TrainedModel>((resolve, reject) => {
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'bar') bar = bars.bar(m.label, m.total);
      else if (m.kind === 'update') bar?.update(m.done, m.fields);
      else if (m.kind === 'log') (bar?.log ?? ((line: string) => process.stderr.write(`${line}\n`)))(m.line);
      else if (m.kind === 'done') resolve(m.model);
      else reject(new Error(m.message));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`the training worker for ${job.name} stopped (exit code ${code}) before it finished`)));
  }).finally(() => {
    bar?.stop();
    running.delete(worker);
    void worker.terminate();
  });
}

/**
 * Runs the jobs, up to one per core at a time, and returns the trained models in job order. The first failure
 * stops the rest and is thrown.
 */
export async function runTrainings(jobs: TrainingJob[], options: { backend?: string; parallel?: number } = {}): Promise<TrainedModel[]> {
  const cores = options.parallel ?? availableParallelism();
  const requested = options.backend ?? 'auto';
  const sequential = cores <= 1 || jobs.length <= 1 || requested === 'tensorflow' || (requested === 'auto' && (await selectBackend('auto')).backend === 'tensorflow');
  if (sequential) {
    const models: TrainedModel[] = [];
    for (const job of jobs) models.push(await runTraining(await jobOptions(job)));
    return models;
  }
  const lanes = Math.min(cores, jobs.length);
  const threads = Math.max(1, Math.floor(availableParallelism() / lanes));
  process.stderr.write(`training ${jobs.length} flows, ${lanes} at a time (one worker thread each)\n`);
  const bars = multiProgress();
  const models: TrainedModel[] = new Array(jobs.length);
  const running = new Set<Worker>();
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (next < jobs.length && !failed) {
      const index = next++;
      models[index] = await trainInWorker(jobs[index], threads, bars, running);
    }
  };
  try {
    await Promise.all(Array.from({ length: lanes }, lane));
  } catch (error) {
    failed = true;
    await Promise.all([...running].map((w) => w.terminate()));
    throw error;
  } finally {
    bars.stop();
  }
  return models;
}
