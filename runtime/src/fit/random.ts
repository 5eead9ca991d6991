/**
 * A small seeded generator of uniform numbers in [0, 1), so random scans are reproducible in Node and in a
 * browser without a dependency. Construction: a Weyl sequence (state += golden-ratio increment, full period
 * 2³²) passed through the MurmurHash3 32-bit finaliser, whose avalanche decorrelates consecutive states
 * (the "SplitMix" design of Steele, Lea & Flood, OOPSLA 2014, at 32 bits). Two outputs give the 53 bits of
 * a double. Good enough to place scan points; not for cryptography.
 */
export function seededRandom(seed: number): () => number {
  if (!Number.isFinite(seed)) throw new Error(`seededRandom: seed must be a finite number, got ${seed}.`);
  let state = Math.trunc(seed) >>> 0;
  const next32 = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  return () => {
    const high = next32() >>> 5; // 27 bits
    const low = next32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992; // (high·2²⁶ + low) / 2⁵³
  };
}
