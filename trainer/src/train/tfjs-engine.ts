// The TensorFlow.js training engine: tfjs autodiff (tf.variableGrads) over the IR interpreter, Adam on tf
// variables. The engine of choice with tfjs-node; elsewhere onnx-step.ts is faster.
import * as tf from '@tensorflow/tfjs-core';
import { isThetaInputWeight } from '../flows/conditioner.ts';
import { logProbGraph } from '../flows/graphs.ts';
import { evaluateGraph } from '../ir/tfjs.ts';
import type { AdamState, EngineSetup, EventArrays, TrainingEngine } from './engine.ts';

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

interface EventTensors {
  x: tf.Tensor2D;
  theta: tf.Tensor2D | null;
  w: tf.Tensor1D;
  count: number;
}

function eventTensors(events: EventArrays, D: number, P: number): EventTensors {
  return {
    x: tf.tensor2d(events.x, [events.count, D]),
    theta: P > 0 ? tf.tensor2d(events.theta, [events.count, P]) : null,
    w: tf.tensor1d(events.w),
    count: events.count,
  };
}

function disposeEvents(events: EventTensors): void {
  tf.dispose([events.x, events.w, ...(events.theta ? [events.theta] : [])]);
}

export function tfjsEngine(setup: EngineSetup): TrainingEngine {
  const { def, specs, clipNorm, thetaWeightDecay } = setup;
  const D = def.features.length;
  const P = def.params.length;
  const { graph, outputs } = logProbGraph(def);
  // Unnamed variables: tfjs names are global, and two trainings may run in one process.
  const vars = specs.map((s) => tf.variable(tf.tensor(setup.init.get(s.name)!, [...s.shape]), true));
  const adam = new Adam(vars);
  const validation = eventTensors(setup.validation, D, P);
  let training = eventTensors(setup.training, D, P);

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
  const thetaPenalty = thetaWeightDecay > 0 ? (): tf.Scalar => tf.mul(thetaWeightDecay, tf.addN(thetaWeights.map((w) => tf.sum(tf.square(w))))) as tf.Scalar : null;
  const read = (list: tf.Variable[]): Map<string, Float32Array> => new Map(specs.map((s, i) => [s.name, Float32Array.from(list[i].dataSync() as Float32Array)]));
  const assign = (list: tf.Variable[], values: Map<string, Float32Array>): void => specs.forEach((s, i) => list[i].assign(tf.tensor(values.get(s.name)!, [...s.shape])));

  return {
    label: `tfjs-${tf.getBackend()}`,
    setTraining(events) {
      disposeEvents(training);
      training = eventTensors(events, D, P);
    },
    async step(rows, learningRate) {
      return tf.tidy(() => {
        const idx = tf.tensor1d(Int32Array.from(rows), 'int32');
        let nll: tf.Scalar | null = null;
        const { grads } = tf.variableGrads(() => {
          nll = tf.keep(batchLoss(training, idx));
          return thetaPenalty ? tf.add(nll, thetaPenalty()) : nll;
        }, vars);
        const list = vars.map((v) => grads[v.name]);
        let clipped = list;
        if (clipNorm > 0) {
          const norm = tf.sqrt(tf.addN(list.map((g) => tf.sum(tf.square(g))))).dataSync()[0];
          if (norm > clipNorm) clipped = list.map((g) => tf.mul(g, clipNorm / norm));
        }
        const lossValue = nll!.dataSync()[0];
        nll!.dispose();
        if (Number.isFinite(lossValue)) adam.apply(clipped, learningRate);
        return lossValue;
      });
    },
    async validationLoss() {
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
    },
    weights: () => read(vars),
    adamState: () => ({ step: adam.step, m: read(adam.m), v: read(adam.v) }),
    restore(weights: Map<string, Float32Array>, state: AdamState) {
      assign(vars, weights);
      assign(adam.m, state.m);
      assign(adam.v, state.v);
      adam.step = state.step;
    },
    async dispose() {
      disposeEvents(validation);
      disposeEvents(training);
      tf.dispose([...vars, ...adam.m, ...adam.v]);
    },
  };
}
