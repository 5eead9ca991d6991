// Element-wise invertible transforms of one feature given its parameters. Direction is in the names:
// toBase maps data → base (density evaluation), fromBase maps base → data (sampling).
// Parameters come per feature as tensors [..., D, m]; values x are [..., D].
import type { GraphBuilder, T } from '../ir/graph.ts';

export interface ElementwiseTransform {
  /** Parameters per feature of each head. */
  readonly heads: number[];
  toBase(x: T, params: T[]): { y: T; logDet: T };
  fromBase(y: T, params: T[]): T;
}

/** Smooth clamp of the log-scale to (−bound, bound), keeping early training stable. */
const LOG_SCALE_BOUND = 6;

/** Affine: y = (x − μ)·exp(−α) (MAF, Papamakarios et al. 2017; RealNVP, Dinh et al. 2017). */
export function affineTransform(): ElementwiseTransform {
  const unpack = (params: T[]): { shift: T; logScale: T } => ({
    shift: params[0].squeeze(-1),
    logScale: params[1].squeeze(-1).div(LOG_SCALE_BOUND).tanh().mul(LOG_SCALE_BOUND),
  });
  return {
    heads: [1, 1],
    toBase(x, params) {
      const { shift, logScale } = unpack(params);
      return { y: x.sub(shift).mul(logScale.neg().exp()), logDet: logScale.neg() };
    },
    fromBase(y, params) {
      const { shift, logScale } = unpack(params);
      return y.mul(logScale.exp()).add(shift);
    },
  };
}

export interface SplineOptions {
  bins: number;
  tailBound: number;
  minBinWidth?: number;
  minBinHeight?: number;
  minDerivative?: number;
}

/**
 * Monotonic rational-quadratic spline on [−B, B] with K bins, identity outside with matching unit
 * derivatives at ±B (Durkan, Bekasov, Murray, Papamakarios 2019, "Neural Spline Flows", eqs. 4–6).
 * Bin search without searchsorted: compare x with the left knots and pick the bin's values with a masked
 * telescoping sum (see `locate`); inputs are clamped into [−B, B] before the arithmetic and the tails selected with Where, so no
 * NaN reaches the gradient (docs/onnx.md, spline bin search).
 */
export function rationalQuadraticSpline(g: GraphBuilder, options: SplineOptions): ElementwiseTransform {
  const K = options.bins;
  const B = options.tailBound;
  const minWidth = options.minBinWidth ?? 1e-3;
  const minHeight = options.minBinHeight ?? 1e-3;
  const minDerivative = options.minDerivative ?? 1e-3;
  // softplus(u + c) = 1 − minDerivative at u = 0: a zero-initialised head starts as the identity.
  const derivativeOffset = Math.log(Math.expm1(1 - minDerivative));
  const interior = g.constant(Float32Array.from({ length: K + 1 }, (_, i) => (i === 0 || i === K ? 0 : 1)), [K + 1]);
  const boundary = g.constant(Float32Array.from({ length: K + 1 }, (_, i) => (i === 0 || i === K ? 1 : 0)), [K + 1]);
  // Constant 0/±1 matrices (exact in float32): first differences along the bins, and the same for the
  // knot derivatives d_0..d_{K−1} (left ends) and d_1..d_K (right ends).
  const matrix = (rows: number, entry: (r: number, c: number) => number): T =>
    g.constant(Float32Array.from({ length: rows * K }, (_, i) => entry(Math.floor(i / K), i % K)), [rows, K]);
  const differences = matrix(K, (r, c) => (r === c ? 1 : r === c - 1 ? -1 : 0));
  const leftDifferences = matrix(K + 1, (r, c) => (r === c ? 1 : r === c - 1 ? -1 : 0));
  const rightDifferences = matrix(K + 1, (r, c) => (r === c + 1 ? 1 : r === c && c > 0 ? -1 : 0));

  const knots = (raw: T, minSize: number): { left: T; size: T } => {
    const fraction = raw.softmaxLast().mul(1 - K * minSize).add(minSize);
    return { left: fraction.cumsumLast(true).mul(2 * B).sub(B), size: fraction.mul(2 * B) };
  };
  const derivatives = (raw: T): T => raw.add(derivativeOffset).softplus().add(minDerivative).mul(interior).add(boundary);

  /**
   * Values of the bin holding v (clamped to [−B, B]) along the knots `left`. The indicators
   * ge_k = [v ≥ left_k] are 1 up to the bin and 0 after it (left_0 = −B), so the bin's value of any per-bin
   * t is the telescoping sum Σ_k ge_k (t_k − t_{k−1}): one comparison and one masked sum per value over the
   * events, with the differences taken once per θ on the small knot tensors. When the knots depend on θ only (a
   * one-feature flow in a scan) the masked sum is one batched MatMul per parameter point (`sharedDot`).
   */
  const locate = (v: T, left: T) => {
    const below = v.unsqueeze(-1).greaterEqual(left);
    const select = (steps: T) => g.sharedDot(below, steps);
    return {
      pick: (t: T) => select(t.matmul(differences)),
      pickLeftDerivative: (d: T) => select(d.matmul(leftDifferences)),
      pickRightDerivative: (d: T) => select(d.matmul(rightDifferences)),
    };
  };

  const inside = (v: T): T => v.greaterEqual(-B).mul(g.scalar(B).greaterEqual(v));

  /** The knots and derivatives of the bin holding v (already clamped), searched along x or y knots. */
  const bin = (params: T[], v: T, along: 'x' | 'y') => {
    const xs = knots(params[0], minWidth);
    const ys = knots(params[1], minHeight);
    const d = derivatives(params[2]);
    const at = locate(v, along === 'x' ? xs.left : ys.left);
    const wk = at.pick(xs.size);
    const hk = at.pick(ys.size);
    return {
      xk: at.pick(xs.left),
      wk,
      yk: at.pick(ys.left),
      hk,
      dk: at.pickLeftDerivative(d),
      dk1: at.pickRightDerivative(d),
      s: hk.div(wk),
    };
  };

  return {
    heads: [K, K, K + 1],
    toBase(x, params) {
      const xc = x.clamp(-B, B);
      const { xk, wk, yk, hk, dk, dk1, s } = bin(params, xc, 'x');
      const xi = xc.sub(xk).div(wk);
      const xi1 = xi.mul(g.scalar(1).sub(xi));
      const denominator = s.add(dk1.add(dk).sub(s.mul(2)).mul(xi1));
      const y = yk.add(hk.mul(s.mul(xi.square()).add(dk.mul(xi1))).div(denominator));
      const slope = dk1.mul(xi.square()).add(s.mul(xi1).mul(2)).add(dk.mul(g.scalar(1).sub(xi).square()));
      const logDet = s.log().mul(2).add(slope.log()).sub(denominator.log().mul(2));
      const keep = inside(x);
      return { y: g.where(keep, y, x), logDet: g.where(keep, logDet, 0) };
    },
    fromBase(y, params) {
      const yc = y.clamp(-B, B);
      const { xk, wk, yk, hk, dk, dk1, s } = bin(params, yc, 'y');
      // Solve the quadratic a ξ² + b ξ + c = 0 for ξ in [0, 1] with the stable root 2c / (−b − √disc).
      const dy = yc.sub(yk);
      const curvature = dk1.add(dk).sub(s.mul(2));
      const a = hk.mul(s.sub(dk)).add(dy.mul(curvature));
      const b = hk.mul(dk).sub(dy.mul(curvature));
      const c = s.neg().mul(dy);
      const disc = b.square().sub(a.mul(c).mul(4)).maximum(0);
      const xi = c.mul(2).div(b.neg().sub(disc.sqrt()).minimum(-1e-30));
      const x = xk.add(xi.mul(wk));
      return g.where(inside(y), x, y);
    },
  };
}
