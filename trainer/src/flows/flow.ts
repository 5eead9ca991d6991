// A conditional flow p(x|θ) described once as IR: preprocessing bijection, then `blocks` transforms
// (autoregressive or coupling), then the base distribution. Every graph the project needs (training,
// log-density, θ-gradient, sampler) is built from these two functions.
import { baseLogDensity } from './base.ts';
import type { ModelDefinition } from './config.ts';
import { type ConditionerLayout, conditioner } from './conditioner.ts';
import { normaliseParameters, preprocessFromBase, preprocessPerFeature, preprocessToBase } from './preprocess.ts';
import { type ElementwiseTransform, affineTransform, rationalQuadraticSpline } from './transforms.ts';
import type { GraphBuilder, T } from '../ir/graph.ts';

interface Block {
  /** Maps x to the parameters of the element-wise transform. */
  conditionerOf(x: T, context: T | null): T[];
  toBase(x: T, context: T | null): { y: T; logDet: T };
  fromBase(y: T, context: T | null): T;
}

function permutationMatrix(order: number[]): Float32Array {
  const D = order.length;
  const m = new Float32Array(D * D);
  order.forEach((from, to) => (m[from * D + to] = 1));
  return m;
}

function buildBlocks(g: GraphBuilder, def: ModelDefinition): Block[] {
  const D = def.features.length;
  const P = def.params.length;
  const cfg = def.flow;
  const autoregressive = cfg.kind === 'maf' || cfg.kind === 'nsf';
  const transform: ElementwiseTransform =
    cfg.kind === 'maf' || cfg.kind === 'realnvp'
      ? affineTransform()
      : rationalQuadraticSpline(g, { bins: cfg.bins, tailBound: cfg.tailBound });
  const layout: ConditionerLayout = {
    features: D,
    context: P,
    hidden: cfg.hidden,
    depth: cfg.depth,
    activation: cfg.activation,
    heads: transform.heads,
    outputGain: 1e-2,
    autoregressive,
    linearTheta: cfg.linearTheta,
  };
  const blocks: Block[] = [];
  for (let b = 0; b < cfg.blocks; b++) {
    const prefix = `block${b}`;
    if (autoregressive) {
      // Reverse the feature order between blocks (a permutation: log|det| = 0), so every feature is
      // conditioned on every other in some block.
      const reverse = b % 2 === 1 && D > 1 ? g.constant(permutationMatrix([...Array(D).keys()].reverse()), [D, D]) : null;
      const permute = (v: T): T => (reverse ? v.matmul(reverse) : v);
      const conditionerOf = (x: T, context: T | null): T[] => conditioner(g, prefix, layout, x, context);
      blocks.push({
        conditionerOf,
        toBase(x, context) {
          const xp = permute(x);
          const { y, logDet } = transform.toBase(xp, conditionerOf(xp, context));
          return { y, logDet: logDet.sumLast() };
        },
        fromBase(y, context) {
          // Inverting an autoregressive map: x_d needs x_<d, so D fixed-point passes are exact
          // (pass k fixes feature k; Papamakarios et al. 2017, §3.1).
          let x = y;
          for (let pass = 0; pass < D; pass++) x = transform.fromBase(y, conditionerOf(x, context));
          return permute(x);
        },
      });
    } else {
      // Coupling (Dinh et al. 2017): features with mask 1 pass unchanged and condition the others;
      // alternate the mask between blocks.
      const keepMask = Float32Array.from({ length: D }, (_, d) => ((d + b) % 2 === 0 ? 1 : 0));
      const keep = g.constant(keepMask, [D]);
      const change = g.constant(keepMask.map((v) => 1 - v), [D]);
      const conditionerOf = (x: T, context: T | null): T[] => conditioner(g, prefix, layout, x.mul(keep), context);
      blocks.push({
        conditionerOf,
        toBase(x, context) {
          const { y, logDet } = transform.toBase(x, conditionerOf(x, context));
          return { y: x.mul(keep).add(y.mul(change)), logDet: logDet.mul(change).sumLast() };
        },
        fromBase(y, context) {
          const x = transform.fromBase(y, conditionerOf(y, context));
          return y.mul(keep).add(x.mul(change));
        },
      });
    }
  }
  return blocks;
}

export interface FlowGraphs {
  /** log p(x|θ) in physical units; x [..., D], θ [..., P] broadcast over the leading axes. */
  logProb(x: T, theta: T | null): T;
  /** Data-space values for base draws z [..., D]. */
  sample(z: T, theta: T | null): T;
  /** Base-space image of x and the total log|det J| of data → base (round-trip checks). */
  toBase(x: T, theta: T | null): { z: T; logDet: T };
  /**
   * log p from events already through the preprocessing bijection (y and its log|det|, which do not depend on θ):
   * a scan computes them once per dataset instead of once per evaluation.
   */
  logProbPreprocessed(y: T, preLogDet: T, theta: T | null): T;
  /**
   * The part of the preprocessing that does not depend on θ, as `logProbPreprocessed` takes it: features scaled by
   * a parameter pass through unchanged (their map needs θ) and add nothing to the log|det|.
   */
  preprocess(x: T): { y: T; logDet: T };
}

/** Smallest divisor a θ-scaled feature sees (θ ≤ 0 is outside every such model's range; this keeps it finite). */
const SCALE_FLOOR = 1e-30;

/**
 * Features measured in units of a parameter (`scaledBy`): s(θ) [..., D] holds θ_j at such a feature and 1 elsewhere
 * (θ times a 0/1 selection matrix, plus 1 at the unscaled features), so x/s is what the preprocessing maps and
 * −Σ log s_d its log|det|. Null when no feature is scaled.
 */
function featureScaling(g: GraphBuilder, def: ModelDefinition): { isScaled: T; centre: T; scaleOf(theta: T | null): T } | null {
  const scaledBy = def.preprocessing.map((p) => p.scaledBy);
  if (scaledBy.every((name) => name === undefined)) return null;
  const D = def.features.length;
  const P = def.params.length;
  const selection = new Float32Array(P * D);
  scaledBy.forEach((name, d) => {
    if (name === undefined) return;
    const j = def.params.findIndex((p) => p.name === name);
    if (j < 0) throw new Error(`feature "${def.features[d].name}" is scaled by "${name}", which is not a parameter (have: ${def.params.map((p) => p.name).join(', ')})`);
    selection[j * D + d] = 1;
  });
  const select = g.constant(selection, [P, D]);
  const unscaledOnes = g.constant(scaledBy.map((name) => (name === undefined ? 1 : 0)), [D]);
  return {
    isScaled: g.constant(scaledBy.map((name) => (name === undefined ? 0 : 1)), [D]),
    // A point inside every feature's support, standing in for the unscaled features where only the scaled ones are mapped.
    centre: g.constant(def.preprocessing.map((p) => (p.lo + p.hi) / 2), [D]),
    scaleOf: (theta) => {
      if (!theta) throw new Error('this flow has θ-scaled features: θ is required');
      return theta.maximum(SCALE_FLOOR).matmul(select).add(unscaledOnes);
    },
  };
}

/** Binds a model definition to a graph under construction. */
export function flowGraphs(g: GraphBuilder, def: ModelDefinition): FlowGraphs {
  const blocks = buildBlocks(g, def);
  const contextOf = (theta: T | null): T | null => {
    if (def.params.length === 0) return null;
    if (!theta) throw new Error('this flow is conditional: θ is required');
    return normaliseParameters(g, def.params, theta);
  };
  /** The transform blocks from preprocessed y (with the preprocessing's log|det|) to the base. */
  const blocksToBase = (y: T, preLogDet: T, theta: T | null): { z: T; logDet: T } => {
    const context = contextOf(theta);
    let z = y;
    let logDet = preLogDet;
    for (const block of blocks) {
      const step = block.toBase(z, context);
      z = step.y;
      logDet = logDet.add(step.logDet);
    }
    return { z, logDet };
  };
  const scaling = featureScaling(g, def);
  /** Physical x → the flow's input y and log|det| of the whole preprocessing, θ-scaled features included. */
  const preprocessAt = (x: T, theta: T | null): { y: T; logDet: T } => {
    if (!scaling) return preprocessToBase(g, def.preprocessing, x);
    const s = scaling.scaleOf(theta);
    const pre = preprocessToBase(g, def.preprocessing, x.div(s));
    return { y: pre.y, logDet: pre.logDet.sub(s.log().sumLast()) };
  };
  const toBase = (x: T, theta: T | null): { z: T; logDet: T } => {
    const pre = preprocessAt(x, theta);
    return blocksToBase(pre.y, pre.logDet, theta);
  };
  const logProbPreprocessed = (y: T, preLogDet: T, theta: T | null): T => {
    let input = { y, logDet: preLogDet };
    if (scaling) {
      // y holds the θ-scaled features still in physical units (see `preprocess`): map them now, at each θ.
      const s = scaling.scaleOf(theta);
      const scaled = preprocessPerFeature(g, def.preprocessing, g.where(scaling.isScaled, y.div(s), scaling.centre));
      input = {
        y: g.where(scaling.isScaled, scaled.y, y),
        logDet: preLogDet.add(g.where(scaling.isScaled, scaled.logDerivative, 0).sumLast()).sub(s.log().sumLast()),
      };
    }
    const { z, logDet } = blocksToBase(input.y, input.logDet, theta);
    return baseLogDensity(def.flow.base, z).add(logDet);
  };
  return {
    toBase,
    logProbPreprocessed,
    logProb(x, theta) {
      const { z, logDet } = toBase(x, theta);
      return baseLogDensity(def.flow.base, z).add(logDet);
    },
    preprocess(x) {
      if (!scaling) return preprocessToBase(g, def.preprocessing, x);
      const mapped = preprocessPerFeature(g, def.preprocessing, g.where(scaling.isScaled, scaling.centre, x));
      return { y: g.where(scaling.isScaled, x, mapped.y), logDet: g.where(scaling.isScaled, 0, mapped.logDerivative).sumLast() };
    },
    sample(z, theta) {
      const context = contextOf(theta);
      let y = z;
      for (let b = blocks.length - 1; b >= 0; b--) y = blocks[b].fromBase(y, context);
      const x = preprocessFromBase(g, def.preprocessing, y);
      return scaling ? x.mul(scaling.scaleOf(theta)) : x;
    },
  };
}
