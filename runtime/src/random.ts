// Seeded pseudo-random numbers for simulation, shuffling and base-distribution draws, in Node and browsers.
//
// Generator: xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number generators", ACM TOMS 47
// (2021)): four uint32 words of state, period 2^128 − 1, passes BigCrush, and needs only 32-bit integer ops
// (Math.imul), which JavaScript engines run at full speed without BigInt.
//
// Seeding: a seed (any safe integer) is split into two uint32 halves, a 64-bit key. The four state words come
// from splitmix32-style mixing of that key, so nearby seeds (0, 1, 2, …) give unrelated streams. `fork(stream)`
// derives a child key by hashing (parent key, stream): a child depends only on its parent's seed and the
// stream number, never on how many numbers the parent has drawn, so workers and epochs can be forked in any
// order and still reproduce. Sub-streams are not provably disjoint (that would need xoshiro's jump
// polynomial), but two random starting points in a 2^128 cycle overlap within 2^40 draws with probability
// about 2^-48 per pair.

const TWO_POW_32 = 4294967296;
const TWO_POW_26 = 67108864;
const TWO_POW_MINUS_52 = 1 / 4503599627370496;

/** murmur3's 32-bit finaliser: a bijection on uint32 with full avalanche. */
function fmix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function checkSafeInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${what} must be an integer between −2^53 and 2^53, got ${value}; pass a whole number such as 42.`);
  }
}

export class Rng {
  /** xoshiro128** state; an Int32Array so updates never box numbers outside V8's small-integer range. */
  private readonly state = new Int32Array(4);
  private spareNormal = 0;
  private hasSpareNormal = false;
  /** 64-bit key (two uint32 halves) this generator was seeded from; forks hash it with the stream number. */
  private key0: number;
  private key1: number;

  /** `seed`: any safe integer. Equal seeds give equal sequences on every platform. */
  constructor(readonly seed: number) {
    checkSafeInteger(seed, 'random seed');
    // Two's-complement-like split so that negative seeds are distinct from positive ones.
    const hi = Math.floor(seed / TWO_POW_32);
    this.key0 = (seed - hi * TWO_POW_32) >>> 0;
    this.key1 = hi >>> 0;
    this.seedState();
  }

  private seedState(): void {
    // splitmix32: a Weyl sequence (golden-ratio increment) through fmix32, started from the mixed key.
    let weyl = fmix32(this.key0 ^ fmix32(this.key1 ^ 0x2545f491));
    const next = (): number => {
      weyl = (weyl + 0x9e3779b9) >>> 0;
      return fmix32(weyl);
    };
    const state = this.state;
    for (let i = 0; i < 4; i++) state[i] = next();
    // The all-zero state is the one fixed point of xoshiro; splitmix32 can reach it only with 2^-128 chance.
    if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  }

  /** Next uniformly distributed uint32 (the raw xoshiro128** output). */
  nextUint32(): number {
    const state = this.state;
    const s0 = state[0];
    const s1 = state[1];
    const s2 = state[2] ^ s0;
    const s3 = state[3] ^ s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    state[0] = s0 ^ s3;
    state[1] = s1 ^ s2;
    state[2] = s2 ^ (s1 << 9);
    state[3] = rotl(s3, 11);
    return result;
  }

  /**
   * Uniform on the open interval (0, 1): (k + 1/2)·2^-52 with k a uniform 52-bit integer, so the smallest value
   * is 2^-53 and the largest 1 − 2^-53 (both exact in float64). Never 0 or 1, so log(u) and inverse CDFs are safe.
   */
  uniform(): number {
    const hi = this.nextUint32() >>> 6;
    const lo = this.nextUint32() >>> 6;
    return (hi * TWO_POW_26 + lo + 0.5) * TWO_POW_MINUS_52;
  }

  /** Exponential with rate 1 (inverse CDF). */
  exponential(): number {
    return -Math.log(this.uniform());
  }

  /** Standard normal, by the polar Box–Muller method (Marsaglia & Bray 1964); pairs are cached. */
  normal(): number {
    if (this.hasSpareNormal) {
      this.hasSpareNormal = false;
      return this.spareNormal;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s < 1 && s > 0) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = v * f;
        this.hasSpareNormal = true;
        return u * f;
      }
    }
  }

  /**
   * Gamma(shape, scale 1). Marsaglia & Tsang, "A simple method for generating gamma variables", ACM TOMS 26
   * (2000): squeeze-and-reject on a transformed normal for shape ≥ 1; shape < 1 via Gamma(shape+1)·U^(1/shape)
   * (their §6).
   */
  gamma(shape: number): number {
    if (!(shape > 0 && shape < Infinity)) throw new RangeError(`gamma shape must be a finite number > 0, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.uniform(), 1 / shape);
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
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /**
   * Poisson with the given mean, exactly: the number of arrivals of a unit-rate Poisson process in [0, mean]
   * (sums of exponential gaps). It costs O(mean) draws, the same order as generating that many events, which is what
   * toys draw a Poisson number for.
   */
  poisson(mean: number): number {
    if (!(mean >= 0 && mean <= 1e9)) throw new RangeError(`poisson mean must be a number in [0, 1e9], got ${mean}`);
    let count = 0;
    for (let t = this.exponential(); t <= mean; t += this.exponential()) count++;
    return count;
  }

  /** Beta(a, b) as Ga/(Ga + Gb) with independent gamma draws. */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    return x / (x + this.gamma(b));
  }

  /** Student-t with ν degrees of freedom: Z / sqrt(χ²_ν/ν) with χ²_ν = 2·Gamma(ν/2). ν = 1 is Cauchy; ν = ∞ normal. */
  studentT(nu: number): number {
    if (!(nu > 0)) throw new RangeError(`Student-t needs degrees of freedom ν > 0, got ${nu}`);
    if (nu === Infinity) return this.normal();
    return this.normal() / Math.sqrt((2 * this.gamma(nu / 2)) / nu);
  }

  fillNormal(out: Float32Array | Float64Array): void {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
  }

  fillStudentT(out: Float32Array | Float64Array, nu: number): void {
    if (!(nu > 0)) throw new RangeError(`Student-t needs degrees of freedom ν > 0, got ${nu}`);
    for (let i = 0; i < out.length; i++) out[i] = this.studentT(nu);
  }

  /** Uniform integer in [0, n), exactly unbiased (rejection of the incomplete top block of 2^32), n ≤ 2^32. */
  int(n: number): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= TWO_POW_32)) {
      throw new RangeError(`int(n) needs an integer n with 1 ≤ n ≤ 2^32, got ${n}`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** In-place Fisher–Yates shuffle (Durstenfeld's variant); every permutation equally likely. Returns `indices`. */
  shuffle(indices: Uint32Array): Uint32Array {
    for (let i = indices.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = indices[i];
      indices[i] = indices[j];
      indices[j] = t;
    }
    return indices;
  }

  /**
   * An independent generator for sub-stream `stream` (a non-negative safe integer). Depends only on this
   * generator's seed key and `stream`, not on draws made so far: `new Rng(s).fork(k)` always gives the same
   * sequence, and forks of forks give further distinct streams.
   */
  fork(stream: number): Rng {
    if (!(Number.isSafeInteger(stream) && stream >= 0)) {
      throw new RangeError(`fork(stream) needs a non-negative integer stream number, got ${stream}`);
    }
    const streamLo = stream >>> 0;
    const streamHi = Math.floor(stream / TWO_POW_32) >>> 0;
    const a = fmix32(this.key0 ^ fmix32(streamLo ^ 0x6a09e667));
    const b = fmix32(this.key1 ^ fmix32(streamHi ^ 0xbb67ae85) ^ a);
    const child = new Rng(this.seed);
    child.key0 = fmix32(a ^ 0x3c6ef372);
    child.key1 = b;
    child.seedState();
    return child;
  }
}
