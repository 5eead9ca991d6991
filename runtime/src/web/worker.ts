// The page's fit worker (a module Web Worker, bundled as worker.js): onnxruntime-web, the loaded flows, the
// likelihood, the fits, the ΔNLL map and the flows' samplers all run here, so the page's main thread only draws
// and answers the user. Requests come one at a time (the page runs one action at a time); 'cancel' may arrive
// while one runs and stops it at its next graph run (RunControl lets the message in every few milliseconds).
import { fitLikelihood, plannedFitPoints } from '../likelihood/fit.ts';
import type { ModelSource } from '../model/flow-model.ts';
import { deltaNllMapAtFit } from '../likelihood/map.ts';
import { COMPONENTS, type ComponentName, type ModelPair, buildLikelihood, fitOptions, fittedPrediction, generatePseudoData } from './analysis.ts';
import { type EnvironmentInfo, type LoadedModel, RunControl, configureOrt, loadFlowModel, wasmThreads } from './engine.ts';
import { type CallName, FitCancelled, type FitJob, type FitOutcome, type LoadedModels, type ModelSpec, type Progress, type WorkerCalls, type WorkerReply, type WorkerRequest } from './protocol.ts';
import { filesSource, urlSource } from './sources.ts';
import { median } from '../stats/median.ts';

/**
 * Point evaluations of the Hessian stage, per free parameter (central differences of the gradient graph, with a
 * retry at another step): the estimate's allowance for what comes after the minimisation.
 */
const HESSIAN_POINTS_PER_PARAMETER = 4;
/** The timing of a point before a fit: at most this many timed evaluations (at least two), none begun after this many seconds. */
const PROBE_EVALUATIONS = 5;
const PROBE_SECONDS = 1.5;

const control = new RunControl();
let environment: EnvironmentInfo | null = null;
let loaded: Record<ComponentName, LoadedModel> | null = null;

function post(reply: WorkerReply, transfer: Transferable[] = []): void {
  (self as unknown as Worker).postMessage(reply, transfer);
}

function modelSource(spec: ModelSpec): ModelSource {
  return spec.kind === 'url' ? urlSource(spec.url) : filesSource(spec.location, spec.files);
}

function models(): ModelPair {
  if (!loaded) throw new Error('no models are loaded in the fit worker: press “Load models” first.');
  return { signal: loaded.signal.model, background: loaded.background.model };
}

async function loadModels(request: WorkerCalls['load-models']['request']): Promise<LoadedModels> {
  if (!environment) throw new Error('internal error: the fit worker was asked for models before it started');
  const fresh: Partial<Record<ComponentName, LoadedModel>> = {};
  try {
    for (const c of COMPONENTS) fresh[c] = await loadFlowModel(modelSource(request.sources[c]), request.choice, environment, control);
  } catch (error) {
    for (const m of Object.values(fresh)) await m.model.release();
    throw error;
  }
  if (loaded) for (const c of COMPONENTS) await loaded[c].model.release();
  loaded = fresh as Record<ComponentName, LoadedModel>;
  const info = (m: LoadedModel) => ({
    name: m.model.name,
    location: m.location,
    provider: m.provider,
    skipped: m.skipped,
    manifest: m.model.manifest,
    parameterNames: [...m.model.parameterNames],
    featureNames: [...m.model.featureNames],
  });
  return { models: { signal: info(loaded.signal), background: info(loaded.background) }, wasmThreads: wasmThreads() };
}

/**
 * The fit, the map and the prediction, with the expected duration announced first: batched evaluations at the
 * box's centre give the cost of a point on this machine and these events, times the points the fit plans
 * (plannedFitPoints: the global search and each start's budget), the Hessian's, the background-only fit's and
 * the map's.
 */
async function fit(job: FitJob, progress: (p: Progress) => void): Promise<FitOutcome> {
  const pair = models();
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  progress({ text: 'Building the likelihood…' });
  const likelihood = buildLikelihood(pair, { ...job.events }, job.settings);
  const options = fitOptions(job.settings, (stage, p) =>
    progress({ text: `${stage}: ${p.calls} evaluations, lowest NLL ${p.lowestValue.toFixed(3)}, ${p.activeStarts} start${p.activeStarts === 1 ? '' : 's'} running — ${elapsed()}` }),
  );
  const planned = plannedFitPoints(likelihood, options);
  const { lower, upper } = likelihood.bounds();
  const batch = planned.starts;
  const probe = new Float64Array(batch * likelihood.dimension);
  for (let k = 0; k < probe.length; k++) probe[k] = 0.5 * (lower[k % likelihood.dimension] + upper[k % likelihood.dimension]);
  progress({ text: 'Timing the likelihood on these events…' });
  // The median of several timed evaluations after a first one: the first pays for onnxruntime's one-off
  // allocations, and the next ones still run V8's baseline WebAssembly code until the optimised tier is compiled in
  // the background, which takes longer under load (ten in a row in a loaded test run: 458, 233, 217, 267, 159, 171,
  // 168, 121, 113, 126 ms). Timing the second alone announced 1.2–8 times the fit's duration from run to run.
  const probeStart = performance.now();
  const timed: number[] = [];
  for (let k = 0; k <= PROBE_EVALUATIONS && (k <= 2 || performance.now() - probeStart < PROBE_SECONDS * 1000); k++) {
    const tProbe = performance.now();
    await likelihood.evaluate(probe, batch, true);
    if (k > 0) timed.push((performance.now() - tProbe) / 1000 / batch);
    await control.checkpoint();
  }
  const secondsPerPoint = median(timed);
  const fitPoints = planned.total + HESSIAN_POINTS_PER_PARAMETER * likelihood.dimension;
  const points = fitPoints * (job.settings.significance ? 2 : 1) + (job.map ? job.map.points ** 2 : 0);
  const expectedSeconds = points * secondsPerPoint;
  progress({
    text: `Expected time: at most about ${Math.ceil(expectedSeconds)} s (${(secondsPerPoint * 1000).toFixed(0)} ms per likelihood point on ${job.events.count} events, up to ${Math.round(points)} points; fits that converge early take less).`,
    expectedSeconds,
  });
  const result = await fitLikelihood(likelihood, {
    ...options,
    onStage: (stage) => {
      if (stage === 'fit') progress({ text: `errors (Hessian)… — ${elapsed()}` });
    },
  });
  const map = job.map
    ? await deltaNllMapAtFit(likelihood, result, job.map.x, job.map.y, {
        nx: job.map.points,
        ny: job.map.points,
        onCall: (done) => progress({ text: `ΔNLL map: row ${done} of ${job.map!.points} — ${elapsed()}`, done, total: job.map!.points }),
      })
    : null;
  progress({ text: `Sampling the fitted model… — ${elapsed()}` });
  const prediction = await fittedPrediction(pair, job.settings, result, job.prediction.samples, job.prediction.seed);
  return { fit: result, map, prediction, expectedSeconds };
}

async function answer(id: number, call: CallName, request: unknown): Promise<unknown> {
  const progress = (p: Progress) => post({ id, kind: 'progress', progress: p });
  switch (call) {
    case 'start':
      environment = await configureOrt((request as WorkerCalls['start']['request']).wasmBase);
      return environment;
    case 'load-models':
      return loadModels(request as WorkerCalls['load-models']['request']);
    case 'generate':
      return generatePseudoData(models(), request as WorkerCalls['generate']['request']);
    case 'fit':
      return fit(request as FitJob, progress);
  }
}

/** Typed arrays in a reply: moved to the page rather than copied (the worker keeps no reference). */
function transferables(value: unknown, found: Transferable[] = []): Transferable[] {
  if (ArrayBuffer.isView(value)) {
    if (!found.includes(value.buffer as ArrayBuffer)) found.push(value.buffer as ArrayBuffer);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) transferables(v, found);
  }
  return found;
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const message = event.data;
  if (message.call === 'cancel') {
    control.cancel();
    return;
  }
  control.reset();
  answer(message.id, message.call, message.request).then(
    (value) => post({ id: message.id, kind: 'done', value }, message.call === 'load-models' ? [] : transferables(value)),
    (error: unknown) =>
      post({ id: message.id, kind: 'failed', message: error instanceof Error ? error.message : String(error), cancelled: error instanceof FitCancelled }),
  );
};
