// The onnxruntime training engine: the step graph (step-graph.ts: loss and every weight's gradient from the
// IR's reverse pass) emitted once as ONNX with the weights as graph inputs and run by onnxruntime-node on the
// CPU; clipping and Adam run in JavaScript on Float32Arrays, with the same formulas as the tfjs engine.
// The weights live in Float32Arrays that the ort tensors wrap without copying, Adam updates them in place,
// and each batch is gathered into preallocated buffers, so a step allocates little besides ORT's outputs.
import * as ort from 'onnxruntime-node';
import { emitOnnx } from '../ir/onnx.ts';
import { adamUpdate } from './adam.ts';
import type { AdamState, EngineSetup, EventArrays, TrainingEngine } from './engine.ts';
import { gradName, stepGraph } from './step-graph.ts';

/** Events per validation run: bounds the memory of the forward pass. */
const VALIDATION_CHUNK = 8192;

export interface OnnxEngineSetup extends EngineSetup {
  /** Largest batch a step gets (sizes the gather buffers). */
  batchSize: number;
  /** onnxruntime intra-op threads. */
  threads: number;
}

/** The serialized step and log-density graphs of a flow, weights as inputs (also used by the tests). */
export function onnxStepModels(setup: Pick<EngineSetup, 'def' | 'thetaWeightDecay'>): { step: Uint8Array; logProb: Uint8Array; weightNames: string[] } {
  const sg = stepGraph(setup.def, setup.thetaWeightDecay);
  const outputs: Record<string, number> = { nll: sg.nll.id, loss: sg.loss.id };
  sg.specs.forEach((s, i) => (outputs[gradName(s.name)] = sg.grads[i].id));
  return {
    step: emitOnnx(sg.graph, { name: 'train_step', outputs, weights: 'inputs' }),
    logProb: emitOnnx(sg.graph, { name: 'log_prob', outputs: { log_prob: sg.logProb.id }, weights: 'inputs' }),
    weightNames: sg.specs.map((s) => s.name),
  };
}

export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`onnxruntime threads must be a positive integer, got ${threads}`);
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Idle pool threads sleep instead of spinning: between runs this thread does Adam (and other trainings may
    // run side by side), and spinning threads would take its core. Measured on 2 cores (MAF 5×128, batch 1024,
    // 2 threads): 8.5 ms per step without spinning against 11–25 ms with it.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

export async function onnxEngine(setup: OnnxEngineSetup): Promise<TrainingEngine> {
  const { def, specs, clipNorm, batchSize } = setup;
  const D = def.features.length;
  const P = def.params.length;
  const models = onnxStepModels(setup);
  if (models.weightNames.join() !== specs.map((s) => s.name).join()) throw new Error('the step graph declares other weights than the flow');
  const options = sessionOptions(setup.threads);
  const stepSession = await ort.InferenceSession.create(models.step, options);
  const logProbSession = await ort.InferenceSession.create(models.logProb, options).catch(async (error: unknown) => {
    await stepSession.release();
    throw error;
  });

  const weights = new Map(specs.map((s) => [s.name, Float32Array.from(setup.init.get(s.name)!)]));
  const m = new Map(specs.map((s) => [s.name, new Float32Array(weights.get(s.name)!.length)]));
  const v = new Map(specs.map((s) => [s.name, new Float32Array(weights.get(s.name)!.length)]));
  let adamStep = 0;
  // Wrappers around the weight arrays themselves: Adam's in-place updates are what the next run reads.
  const weightFeeds: Record<string, ort.Tensor> = Object.fromEntries(specs.map((s) => [s.name, new ort.Tensor('float32', weights.get(s.name)!, [...s.shape])]));

  let training = setup.training;
  const validation = setup.validation;
  const bx = new Float32Array(batchSize * D);
  const bt = new Float32Array(batchSize * P);
  const bw = new Float32Array(batchSize);

  /** Feeds for `count` events (x, θ, w views of length count), plus every weight the session reads. */
  const feeds = (session: ort.InferenceSession, x: Float32Array, theta: Float32Array, w: Float32Array, count: number): Record<string, ort.Tensor> => {
    const all: Record<string, ort.Tensor> = { ...weightFeeds, x: new ort.Tensor('float32', x, [count, D]), w: new ort.Tensor('float32', w, [count]) };
    if (P > 0) all.theta = new ort.Tensor('float32', theta, [count, P]);
    return Object.fromEntries(session.inputNames.map((name) => [name, all[name]]));
  };

  return {
    label: 'onnxruntime-cpu',
    setTraining(events: EventArrays) {
      training = events;
    },
    async step(rows, learningRate) {
      const n = rows.length;
      if (n > batchSize) throw new Error(`a batch of ${n} events exceeds the engine's batch size ${batchSize}`);
      for (let i = 0; i < n; i++) {
        const r = rows[i];
        for (let d = 0; d < D; d++) bx[i * D + d] = training.x[r * D + d];
        for (let p = 0; p < P; p++) bt[i * P + p] = training.theta[r * P + p];
        bw[i] = training.w[r];
      }
      const out = await stepSession.run(feeds(stepSession, bx.subarray(0, n * D), bt.subarray(0, n * P), bw.subarray(0, n), n));
      const nll = (out.nll.data as Float32Array)[0];
      if (!Number.isFinite(nll)) return nll;
      const grads = specs.map((s) => out[gradName(s.name)].data as Float32Array);
      let scale = 1;
      if (clipNorm > 0) {
        let squares = 0;
        for (const g of grads) for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
        const norm = Math.sqrt(squares);
        if (norm > clipNorm) scale = clipNorm / norm;
      }
      adamStep++;
      specs.forEach((s, k) => adamUpdate(weights.get(s.name)!, grads[k], m.get(s.name)!, v.get(s.name)!, adamStep, learningRate, scale));
      return nll;
    },
    async validationLoss() {
      let total = 0;
      let weight = 0;
      for (let s = 0; s < validation.count; s += VALIDATION_CHUNK) {
        const e = Math.min(s + VALIDATION_CHUNK, validation.count);
        const w = validation.w.subarray(s, e);
        const out = await logProbSession.run(feeds(logProbSession, validation.x.subarray(s * D, e * D), validation.theta.subarray(s * P, e * P), w, e - s));
        const lp = out.log_prob.data as Float32Array;
        // float64 sums: the validation NLL decides early stopping to 1e-5.
        for (let i = 0; i < lp.length; i++) {
          total -= w[i] * lp[i];
          weight += w[i];
        }
      }
      return total / weight;
    },
    weights: () => new Map([...weights].map(([name, w]) => [name, Float32Array.from(w)])),
    adamState: (): AdamState => ({ step: adamStep, m: new Map([...m].map(([k, a]) => [k, Float32Array.from(a)])), v: new Map([...v].map(([k, a]) => [k, Float32Array.from(a)])) }),
    restore(values, state) {
      for (const s of specs) {
        weights.get(s.name)!.set(values.get(s.name)!);
        m.get(s.name)!.set(state.m.get(s.name)!);
        v.get(s.name)!.set(state.v.get(s.name)!);
      }
      adamStep = state.step;
    },
    async dispose() {
      await stepSession.release();
      await logProbSession.release();
    },
  };
}
