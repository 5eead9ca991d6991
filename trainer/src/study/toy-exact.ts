// The toy study's EXACT likelihood (paper §3.1): truncated Breit–Wigner signal plus truncated exponential
// background on [a, b], in float64 with analytic θ-gradients. It is the oracle the flow-based fit is judged
// against: same pseudo-data, same fixed fractions or extended yields, same minimiser.
//
//   signal:     p_s(x|M, Γ) = (γ/π) / ((x−M)² + γ²) / Z_s,   γ = Γ/2,  Z_s = F(b) − F(a),  F(x) = ½ + atan((x−M)/γ)/π
//   background: p_b(x|τ)    = τ e^{−τx} / (e^{−τa} − e^{−τb})
import type { BatchObjective, Bounds } from '@flowscan/runtime';

export interface ToyWindow {
  lo: number;
  hi: number;
}

/** log p_s and its derivatives in M and Γ. */
export function signalTerms(x: number, m: number, width: number, w: ToyWindow): { logP: number; dM: number; dGamma: number } {
  const g = width / 2;
  const d = x - m;
  const q = d * d + g * g;
  const da = w.lo - m;
  const db = w.hi - m;
  const z = (Math.atan(db / g) - Math.atan(da / g)) / Math.PI;
  const ca = g / Math.PI / (da * da + g * g);
  const cb = g / Math.PI / (db * db + g * g);
  // ∂Z/∂M = −(c(b) − c(a)); ∂Z/∂γ = [−(b−M)/((b−M)²+γ²) + (a−M)/((a−M)²+γ²)] / π
  const dZdM = -(cb - ca);
  const dZdg = (-db / (db * db + g * g) + da / (da * da + g * g)) / Math.PI;
  return {
    logP: Math.log(g / Math.PI) - Math.log(q) - Math.log(z),
    dM: (2 * d) / q - dZdM / z,
    dGamma: 0.5 * (1 / g - (2 * g) / q - dZdg / z),
  };
}

/** log p_b and its derivative in τ, stable for small τ (expm1). */
export function backgroundTerms(x: number, tau: number, w: ToyWindow): { logP: number; dTau: number } {
  const span = w.hi - w.lo;
  // e^{−τa} − e^{−τb} = −e^{−τa}·expm1(−τ(b−a))
  const logNorm = -tau * w.lo + Math.log(-Math.expm1(-tau * span));
  return {
    logP: Math.log(tau) - tau * x - logNorm,
    dTau: 1 / tau - x + w.lo - span / Math.expm1(tau * span),
  };
}

export type ExactYields = { mode: 'fixed-fractions'; signalFraction: number } | { mode: 'extended' };

/**
 * −log L over (m_pole, gamma, tau) with fixed fractions, or (m_pole, gamma, tau, n_signal, n_background)
 * extended, as a BatchObjective for the same minimiser the flows use.
 */
export class ExactToyLikelihood implements BatchObjective {
  readonly names: string[];
  constructor(
    private readonly x: Float64Array,
    private readonly yields: ExactYields,
    private readonly w: ToyWindow,
  ) {
    this.names = yields.mode === 'extended' ? ['m_pole', 'gamma', 'tau', 'n_signal', 'n_background'] : ['m_pole', 'gamma', 'tau'];
  }

  get dimension(): number {
    return this.names.length;
  }

  async evaluate(points: Float64Array, count: number, withGradient: boolean): Promise<{ values: Float64Array; gradients?: Float64Array }> {
    const P = this.dimension;
    const values = new Float64Array(count);
    const gradients = withGradient ? new Float64Array(count * P) : undefined;
    for (let k = 0; k < count; k++) {
      const [m, width, tau] = points.subarray(k * P, k * P + 3);
      const extended = this.yields.mode === 'extended';
      const ns = extended ? points[k * P + 3] : this.yields.mode === 'fixed-fractions' ? this.yields.signalFraction : 0;
      const nb = extended ? points[k * P + 4] : 1 - ns;
      let nll = extended ? ns + nb : 0;
      let gM = 0;
      let gG = 0;
      let gT = 0;
      let gNs = extended ? 1 : 0;
      let gNb = extended ? 1 : 0;
      for (let i = 0; i < this.x.length; i++) {
        const s = signalTerms(this.x[i], m, width, this.w);
        const b = backgroundTerms(this.x[i], tau, this.w);
        const ps = Math.exp(s.logP);
        const pb = Math.exp(b.logP);
        const mix = ns * ps + nb * pb;
        nll -= Math.log(mix);
        if (gradients) {
          const rs = (ns * ps) / mix;
          const rb = (nb * pb) / mix;
          gM -= rs * s.dM;
          gG -= rs * s.dGamma;
          gT -= rb * b.dTau;
          gNs -= ps / mix;
          gNb -= pb / mix;
        }
      }
      values[k] = nll;
      if (gradients) {
        gradients.set(extended ? [gM, gG, gT, gNs, gNb] : [gM, gG, gT], k * P);
      }
    }
    return gradients ? { values, gradients } : { values };
  }

  bounds(sumEvents: number): Bounds {
    const lower = [60, 0.5, 1e-3];
    const upper = [120, 5, 0.1];
    if (this.yields.mode === 'extended') {
      lower.push(0, 0);
      upper.push(10 * sumEvents + 100, 10 * sumEvents + 100);
    }
    return { lower: Float64Array.from(lower), upper: Float64Array.from(upper) };
  }
}
