// Conditioner networks: map (x, θ) to the parameters of an element-wise transform.
//
// MADE (Germain et al. 2015): masked dense layers so output d depends only on x_<d (and on θ through the
// first layer, which every hidden unit sees: Papamakarios et al. 2017, conditional MAF). Hidden degrees run
// over 0..D−1; degree 0 units see θ only, so the first feature is conditioned on θ and a one-dimensional
// flow (the toy) is a θ-conditioned transform. Coupling layers use the same network without masks.
// With `linearTheta`, θ also reaches every output through a linear map that starts at zero: a transform
// parameter that moves linearly with θ (a resonance peak following its mass) needs no curvature from the
// network, so the flow interpolates between trained θ values the way the physics does.
import type { Activation } from './config.ts';
import type { GraphBuilder, T } from '../ir/graph.ts';

export interface ConditionerLayout {
  /** Number of features D. */
  features: number;
  /** Width of the (normalised) θ input; 0 for unconditional flows. */
  context: number;
  hidden: number;
  depth: number;
  activation: Activation;
  /** Parameters per feature of each output head, e.g. [1, 1] (affine) or [K, K, K+1] (spline). */
  heads: number[];
  /** Initial output scale: small, so each block starts near the identity. */
  outputGain: number;
  autoregressive: boolean;
  /** A linear path from θ to every output beside the network. */
  linearTheta: boolean;
}

/** The hidden-layer non-linearity (also the classifier's, trainer/src/classifier/network.ts). */
export function activate(h: T, activation: Activation): T {
  switch (activation) {
    case 'tanh':
      return h.tanh();
    case 'relu':
      return h.maximum(0);
    case 'silu':
      return h.mul(h.sigmoid());
  }
}

const THETA_INPUT_WEIGHT = '.ctx.W';

/** Whether a trainable weight is one that carries θ into a conditioner's hidden units. */
export function isThetaInputWeight(name: string): boolean {
  return name.endsWith(THETA_INPUT_WEIGHT);
}

/** Masks of a MADE with the given input, hidden and output degrees: connect when the rule holds. */
function degreeMask(inDegrees: number[], outDegrees: number[], connects: (din: number, dout: number) => boolean): Float32Array {
  const m = new Float32Array(inDegrees.length * outDegrees.length);
  inDegrees.forEach((di, i) => outDegrees.forEach((dout, j) => (m[i * outDegrees.length + j] = connects(di, dout) ? 1 : 0)));
  return m;
}

/** Builds the conditioner; returns one tensor per head with shape [..., D, m_head]. */
export function conditioner(g: GraphBuilder, prefix: string, layout: ConditionerLayout, x: T, context: T | null): T[] {
  const D = layout.features;
  const H = layout.hidden;
  const inputDegrees = [...Array(D).keys()].map((d) => d + 1);
  const hiddenDegrees = [...Array(H).keys()].map((k) => k % D);
  const masked = (name: string, input: T, inDeg: number[], outDeg: number[], rule: (a: number, b: number) => boolean, gain = 1): T => {
    const w = g.param(`${prefix}.${name}.W`, [inDeg.length, outDeg.length], { kind: 'fanIn', gain });
    const weight = layout.autoregressive ? w.mul(g.constant(degreeMask(inDeg, outDeg, rule), [inDeg.length, outDeg.length])) : w;
    return input.matmul(weight, g.param(`${prefix}.${name}.b`, [outDeg.length], { kind: 'zeros' }));
  };

  // Input → hidden: unit k sees x_d when its degree is ≥ d+1; θ reaches every hidden unit. When no hidden
  // unit sees x (a one-feature autoregressive flow), the x term is left out entirely: the transform's
  // parameters then depend on θ only and keep θ's batch shape, so a scan evaluates them once per parameter
  // point instead of once per event.
  const seesX = !layout.autoregressive || degreeMask(inputDegrees, hiddenDegrees, (din, dh) => dh >= din).some((v) => v !== 0);
  const contextTerm = context && layout.context > 0 ? context.matmul(g.param(`${prefix}${THETA_INPUT_WEIGHT}`, [layout.context, H])) : null;
  let pre: T;
  if (seesX) {
    pre = masked('in', x, inputDegrees, hiddenDegrees, (din, dh) => dh >= din);
    if (contextTerm) pre = pre.add(contextTerm);
  } else {
    const bias = g.param(`${prefix}.in.b`, [H], { kind: 'zeros' });
    pre = contextTerm ? contextTerm.add(bias) : bias;
  }
  let h = activate(pre, layout.activation);
  for (let l = 1; l < layout.depth; l++) {
    h = activate(masked(`h${l}`, h, hiddenDegrees, hiddenDegrees, (a, b) => b >= a), layout.activation);
  }
  // Hidden → output: feature d (degree d+1) reads hidden units of degree ≤ d.
  return layout.heads.map((m, i) => {
    const outDegrees = [...Array(D * m).keys()].map((j) => Math.floor(j / m) + 1);
    let out = masked(`head${i}`, h, hiddenDegrees, outDegrees, (dh, dout) => dh < dout, layout.outputGain);
    if (layout.linearTheta && context && layout.context > 0) {
      // θ is no input of the autoregressive order: every output may see all of it.
      out = out.add(context.matmul(g.param(`${prefix}.theta${i}.W`, [layout.context, D * m], { kind: 'zeros' })));
    }
    return out.splitLast(D, m);
  });
}
