/**
 * Scaled coordinates for the minimisers.
 *
 * Fit parameters can differ by many orders of magnitude (a mass ~91 GeV known to ~0.1, a slope τ ~0.01
 * known to ~1e-4). Gradient methods are not invariant to such scales: a unit step in one coordinate is a
 * hundred σ in another, and the Hessian's condition number grows with the square of the scale ratio
 * (Nocedal & Wright, "Numerical Optimization", 2nd ed., §2.2 "scaling"). The minimisers therefore work in
 *
 *     x_i = base_i + scale_i · u_i        (for the free coordinates i; the others stay at base_i)
 *
 * where `base` is the start point (u = 0 there) and `scale_i` is a typical size of parameter i's
 * uncertainty. With scale ≈ σ the NLL is ≈ ½|u|² near the minimum: a well-conditioned problem, one unit of
 * u is one σ, and the gradient ∂f/∂u_i = scale_i·∂f/∂x_i is measured in "NLL per σ". The same class fixes
 * coordinates for profile likelihoods (the fixed parameter is simply not free).
 */

export class ScaledEmbedding {
  /** Number of free coordinates (length of u). */
  readonly dimension: number;
  /** Bounds in u, (lower − base)/scale and (upper − base)/scale, ±Infinity kept. */
  readonly lowerU: Float64Array;
  readonly upperU: Float64Array;

  /**
   * @param base   full physical point (length P) where u = 0; must lie inside the bounds
   * @param free   indices of the coordinates the minimiser moves
   * @param scales full per-parameter scales (length P, > 0)
   * @param lower  full physical lower bounds
   * @param upper  full physical upper bounds
   */
  constructor(
    readonly base: Float64Array,
    readonly free: Int32Array,
    readonly scales: Float64Array,
    readonly lower: Float64Array,
    readonly upper: Float64Array,
  ) {
    this.dimension = free.length;
    this.lowerU = new Float64Array(this.dimension);
    this.upperU = new Float64Array(this.dimension);
    free.forEach((i, k) => {
      this.lowerU[k] = lower[i] === -Infinity ? -Infinity : (lower[i] - base[i]) / scales[i];
      this.upperU[k] = upper[i] === Infinity ? Infinity : (upper[i] - base[i]) / scales[i];
    });
  }

  /** Every coordinate free, scaled about `base`. */
  static full(base: Float64Array, scales: Float64Array, lower: Float64Array, upper: Float64Array): ScaledEmbedding {
    const free = Int32Array.from({ length: base.length }, (_, i) => i);
    return new ScaledEmbedding(base, free, scales, lower, upper);
  }

  /** Number of physical parameters P. */
  get parameterCount(): number {
    return this.base.length;
  }

  /**
   * Writes the physical point of u (read at uOffset) into out at outOffset. A u on its bound maps to the
   * physical bound exactly (base + scale·(bound − base)/scale can miss it by an ulp, which would evaluate
   * e.g. a Poisson rate at −1e-17); everything is clamped into the physical box for the same reason.
   */
  writePhysical(u: Float64Array, uOffset: number, out: Float64Array, outOffset: number): void {
    const p = this.base.length;
    for (let i = 0; i < p; i++) out[outOffset + i] = this.base[i];
    for (let k = 0; k < this.dimension; k++) {
      const i = this.free[k];
      const uk = u[uOffset + k];
      let x: number;
      if (uk <= this.lowerU[k]) x = this.lower[i];
      else if (uk >= this.upperU[k]) x = this.upper[i];
      else x = Math.min(this.upper[i], Math.max(this.lower[i], this.base[i] + this.scales[i] * uk));
      out[outOffset + i] = x;
    }
  }

  /** The physical point of u as a new array. */
  physical(u: Float64Array): Float64Array {
    const out = new Float64Array(this.base.length);
    this.writePhysical(u, 0, out, 0);
    return out;
  }

  /** Chain rule ∂f/∂u_k = scale_i · ∂f/∂x_i for the free coordinates, from a full gradient at gxOffset. */
  writeScaledGradient(gx: Float64Array, gxOffset: number, out: Float64Array, outOffset: number): void {
    for (let k = 0; k < this.dimension; k++) {
      const i = this.free[k];
      out[outOffset + k] = this.scales[i] * gx[gxOffset + i];
    }
  }
}
