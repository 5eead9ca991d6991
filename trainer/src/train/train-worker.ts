// One training in a worker thread (see parallel.ts): builds the run from its job, forwards the progress bar and
// log lines to the main thread, and posts the trained model back.
import { parentPort, workerData } from 'node:worker_threads';
import { type WorkerJob, type WorkerMessage, jobOptions } from './parallel.ts';
import { runTraining } from './run.ts';

const port = parentPort!;
const post = (m: WorkerMessage): void => port.postMessage(m);

try {
  const { job, threads } = workerData as WorkerJob;
  const options = await jobOptions(job);
  const model = await runTraining({
    ...options,
    threads,
    progress: (label, total) => {
      post({ kind: 'bar', label, total });
      return { update: (done, fields) => post({ kind: 'update', done, fields }), log: (line) => post({ kind: 'log', line }), stop: () => undefined };
    },
  });
  post({ kind: 'done', model });
} catch (error) {
  post({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
}
