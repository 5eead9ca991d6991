// Base distributions of the flows, as IR (log-density) and in float64 (constants).
import type { BaseDistribution } from './config.ts';
import type { T } from '../ir/graph.ts';

/** log Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; |error| < 1e-13 for the ν we use). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** log-density of one base coordinate as a float64 function (reference for tests). */
export function baseLogDensity1d(base: BaseDistribution, z: number): number {
  if (base.kind === 'normal') return -0.5 * z * z - 0.5 * Math.log(2 * Math.PI);
  const nu = base.nu;
  return studentTConstant(nu) - ((nu + 1) / 2) * Math.log1p((z * z) / nu);
}

function studentTConstant(nu: number): number {
  return logGamma((nu + 1) / 2) - logGamma(nu / 2) - 0.5 * Math.log(nu * Math.PI);
}

/** Σ_d log p_base(z_d) over the last axis. A Student-t base (ν = 1: Cauchy) has heavy tails (Tan 2020). */
export function baseLogDensity(base: BaseDistribution, z: T): T {
  const D = z.width;
  if (base.kind === 'normal') return z.square().sumLast().mul(-0.5).sub(0.5 * D * Math.log(2 * Math.PI));
  const nu = base.nu;
  return z.square().div(nu).add(1).log().sumLast().mul(-(nu + 1) / 2).add(D * studentTConstant(nu));
}
