// Seeded pseudo-random numbers for simulation, shuffling and base-distribution draws, in Node and browsers.
// Generator: xoshiro128** (Blackman & Vigna 2018) on four uint32 words seeded by splitmix32; uniforms use
// 53 random bits. Normal draws by the polar Box–Muller method, gamma by Marsaglia & Tsang (2000),
// Student-t as normal / sqrt(chi²_ν / ν).

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(readonly seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`random seed must be a finite number, got ${seed}`);
    const state = { s: Math.floor(seed) ^ 0x5bd1e995 };
    // Mix both halves of large seeds.
    state.s ^= Math.floor(seed / 2 ** 32) | 0;
    this.s0 = splitmix32(state);
    this.s1 = splitmix32(state);
    this.s2 = splitmix32(state);
    this.s3 = splitmix32(state);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in the open interval (0, 1), 53 bits. */
  uniform(): number {
    for (;;) {
      const hi = this.nextUint32() >>> 5; // 27 bits
      const lo = this.nextUint32() >>> 6; // 26 bits
      const u = (hi * 67108864 + lo) / 9007199254740992;
      if (u > 0) return u;
    }
  }

  /** Integer in [0, n). */
  int(n: number): number {
    if (!(Number.isInteger(n) && n > 0)) throw new Error(`int(n) needs a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = v * f;
        return u * f;
      }
    }
  }

  /** Gamma(shape, 1) (Marsaglia & Tsang 2000; shape < 1 by the boost u^(1/shape)). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new Error(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * this.uniform() ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Student-t with ν degrees of freedom (ν = 1: Cauchy). */
  studentT(nu: number): number {
    if (!(nu > 0)) throw new Error(`Student-t needs ν > 0, got ${nu}`);
    return this.normal() / Math.sqrt((2 * this.gamma(nu / 2)) / nu);
  }

  fillNormal(out: Float32Array | Float64Array): void {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
  }

  fillStudentT(out: Float32Array | Float64Array, nu: number): void {
    for (let i = 0; i < out.length; i++) out[i] = this.studentT(nu);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle(values: Uint32Array): void {
    for (let i = values.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      const t = values[i];
      values[i] = values[j];
      values[j] = t;
    }
  }

  /** An independent generator for sub-stream `stream` of this seed (same seed + stream → same numbers). */
  fork(stream: number): Rng {
    return new Rng(this.seed * 1000003 + stream * 7919 + 12345);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
