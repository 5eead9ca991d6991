// `flowscan validate toy --asimov`: the flows' expected pulls and error ratios at each design point without
// pseudo-experiment noise, in seconds per point instead of minutes.
//
// On one large sample drawn from the exact model at the truth θ₀ (4× the paper's size), the flow fit would move from
// θ₀ by δ = −H_flow⁻¹ (∇NLL_flow − ∇NLL_exact)(θ₀): the flows' own gradient error, with the sample's fluctuation
// (shared by both gradients) cancelled. H_flow is the flows' NLL curvature at θ₀ (central differences of their
// gradients with steps of 0.3σ, as the fit's Hessian), H_exact the exact one (analytic gradients, small steps).
// The expected pull at the paper's size N₀ = 101k is δ / σ_exact(N₀), σ_exact(N₀)² = (H_exact⁻¹)_jj · N / N₀, and the
// error ratio √((H_flow⁻¹)_jj / (H_exact⁻¹)_jj). This is the mean the pseudo-experiments of `validate toy` estimate.
import { type BatchObjective, Rng, cholesky, choleskyInverse } from '@flowscan/runtime';
import { TOY_PSEUDO_DATA, TOY_SIGNAL_FRACTION, TOY_WINDOW, type ToyPoint, toyPseudoData } from '../study/toy.ts';
import { ExactToyLikelihood } from '../study/toy-exact.ts';
import { type ToyModels, toyFlowLikelihood } from './toy.ts';

/** The large sample is this many times the paper's pseudo-data. */
export const ASIMOV_SCALE = 4;
const PARAMETERS = ['m_pole', 'gamma', 'tau'] as const;

export interface AsimovRow {
  point: ToyPoint;
  /** The predicted flow-fit shift θ_flow − θ_exact on the large sample itself, per parameter (θ units). */
  shifts: Record<string, number>;
  /** Expected (θ_flow − θ_exact)/σ_exact at the paper's size, per parameter. */
  pulls: Record<string, number>;
  /** σ_flow/σ_exact per parameter. */
  ratios: Record<string, number>;
  seconds: number;
}

async function gradient(objective: BatchObjective, theta: Float64Array): Promise<Float64Array> {
  return (await objective.evaluate(theta, 1, true)).gradients!;
}

/** Signal and background events of the large sample: `scale` times the paper's. */
export function asimovSize(scale: number): { nSignal: number; nBackground: number } {
  return { nSignal: Math.round(scale * TOY_PSEUDO_DATA.nSignal), nBackground: Math.round(scale * TOY_PSEUDO_DATA.nBackground) };
}

/** Symmetrised Hessian from central differences of gradients, steps h_j, all 2P points in one batched call. */
async function hessianAt(objective: BatchObjective, theta: Float64Array, steps: readonly number[]): Promise<Float64Array> {
  const P = theta.length;
  const points = new Float64Array(2 * P * P);
  for (let j = 0; j < P; j++) {
    for (const [side, sign] of [[0, 1], [1, -1]] as const) {
      const row = points.subarray((2 * j + side) * P, (2 * j + side + 1) * P);
      row.set(theta);
      row[j] += sign * steps[j];
    }
  }
  const g = (await objective.evaluate(points, 2 * P, true)).gradients!;
  const h = new Float64Array(P * P);
  for (let j = 0; j < P; j++) for (let i = 0; i < P; i++) h[i * P + j] = (g[2 * j * P + i] - g[(2 * j + 1) * P + i]) / (2 * steps[j]);
  for (let i = 0; i < P; i++) for (let j = 0; j < i; j++) h[i * P + j] = h[j * P + i] = 0.5 * (h[i * P + j] + h[j * P + i]);
  return h;
}

function inverse(h: Float64Array, P: number, what: string): Float64Array {
  const l = cholesky(h, P);
  if (!l) throw new Error(`the ${what} NLL curvature at the truth is not positive definite`);
  return choleskyInverse(l, P);
}

/** Expected pulls and error ratios at one design point. */
export async function asimovPoint(models: ToyModels, point: ToyPoint, seed: number, scale = ASIMOV_SCALE): Promise<AsimovRow> {
  const started = performance.now();
  const size = asimovSize(scale);
  const x = toyPseudoData(new Rng(seed), point, size);
  const flow = toyFlowLikelihood(models, x);
  const exact = new ExactToyLikelihood(x, { mode: 'fixed-fractions', signalFraction: TOY_SIGNAL_FRACTION }, TOY_WINDOW);
  const theta = Float64Array.from(PARAMETERS, (p) => point[p]);
  const P = theta.length;
  const exactCovariance = inverse(await hessianAt(exact, theta, Array.from(theta, (v) => 1e-5 * Math.abs(v))), P, 'exact');
  const sigma = Array.from({ length: P }, (_, j) => Math.sqrt(exactCovariance[j * P + j]));
  const flowCovariance = inverse(await hessianAt(flow, theta, sigma.map((s) => 0.3 * s)), P, 'flows\'');
  const [gFlow, gExact] = [await gradient(flow, theta), await gradient(exact, theta)];
  const pulls: Record<string, number> = {};
  const ratios: Record<string, number> = {};
  const shifts: Record<string, number> = {};
  const events = size.nSignal + size.nBackground;
  const paperEvents = TOY_PSEUDO_DATA.nSignal + TOY_PSEUDO_DATA.nBackground;
  PARAMETERS.forEach((name, j) => {
    let shift = 0;
    for (let i = 0; i < P; i++) shift -= flowCovariance[j * P + i] * (gFlow[i] - gExact[i]);
    shifts[name] = shift;
    pulls[name] = shift / (sigma[j] * Math.sqrt(events / paperEvents));
    ratios[name] = Math.sqrt(flowCovariance[j * P + j]) / sigma[j];
  });
  return { point, shifts, pulls, ratios, seconds: (performance.now() - started) / 1000 };
}

/** A Markdown table of the rows, goal marks as in the pseudo-experiment table. */
export function asimovTable(rows: AsimovRow[], goal: { pull: number; ratio: number }): string {
  const header = ['#', ...PARAMETERS, ...PARAMETERS.flatMap((p) => [`${p} pull`, `${p} σ ratio`]), 'goal'];
  const mark = (ok: boolean) => (ok ? '' : ' ✗');
  const lines = rows.map((r, k) => {
    const misses = PARAMETERS.filter((p) => !(Math.abs(r.pulls[p]) <= goal.pull && Math.abs(r.ratios[p] - 1) <= goal.ratio));
    return [
      String(k + 1),
      ...PARAMETERS.map((p) => String(Number(r.point[p].toPrecision(4)))),
      ...PARAMETERS.flatMap((p) => [
        `${r.pulls[p] >= 0 ? '+' : '−'}${Math.abs(r.pulls[p]).toFixed(2)}${mark(Math.abs(r.pulls[p]) <= goal.pull)}`,
        `${r.ratios[p].toFixed(2)}${mark(Math.abs(r.ratios[p] - 1) <= goal.ratio)}`,
      ]),
      misses.length === 0 ? '✓' : `✗ ${misses.join(', ')}`,
    ];
  });
  return [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`, ...lines.map((l) => `| ${l.join(' | ')} |`)].join('\n');
}
