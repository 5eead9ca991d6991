// Designs of truth points for `flowscan validate toy`: where in the toy's θ box the exported flows are checked.
//
// The box is M_pole ∈ [60, 120] GeV, Γ ∈ [0.5, 5] GeV and τ ∈ [10⁻³, 10⁻¹] GeV⁻¹ (log-scaled in training). The
// default design takes the three levels low / middle / high of each axis, inset by 5 % of the axis (of its decades
// for τ), and keeps the 8 corners, the 12 edge midpoints and the centre of the resulting 3×3×3 grid, plus the
// paper's point: 22 points, τ at every decade (10^−2.9, 10^−2, 10^−1.1). The inset keeps the exact minimum off
// the bounds: at the smallest τ the exact σ_τ is about 1e−4 GeV⁻¹ for 101k events, so the 2.6e−4 inset is 2.5σ,
// and a pseudo-experiment whose minimum still lands on a bound is left out of the pull (a fit at a bound has none).
import { TOY_GAMMA_RANGE, TOY_LOG10_TAU_RANGE, TOY_M_POLE_RANGE } from '../data/toy.ts';
import { TOY_PSEUDO_DATA, TOY_TRUTH, type ToyPoint } from '../study/toy.ts';

export interface ToyDesign {
  name: string;
  points: ToyPoint[];
  /** Events per pseudo-experiment; the signal fraction stays the paper's 1/101. */
  size: { nSignal: number; nBackground: number };
  /** Pseudo-experiments per point unless the command line says otherwise. */
  experiments: number;
  description: string;
}

/** Fraction of each axis (in decades for τ) that the design's outer levels keep from the box's edges. */
export const DESIGN_INSET = 0.05;

/** Low, middle and high level of an axis [lo, hi], the outer two inset by DESIGN_INSET of its length. */
function levels([lo, hi]: readonly [number, number]): [number, number, number] {
  const inset = DESIGN_INSET * (hi - lo);
  return [lo + inset, (lo + hi) / 2, hi - inset];
}

/** Corners, edge midpoints and the centre of the inset 3×3×3 grid (not the 6 face centres), then the paper's point. */
function defaultPoints(): ToyPoint[] {
  const m = levels(TOY_M_POLE_RANGE);
  const g = levels(TOY_GAMMA_RANGE);
  const log10Tau = levels(TOY_LOG10_TAU_RANGE);
  const points: ToyPoint[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) {
        const middles = [i, j, k].filter((level) => level === 1).length;
        // 0 middle levels: a corner; 1: the midpoint of an edge; 3: the centre. 2 would be a face centre.
        if (middles === 2) continue;
        points.push({ m_pole: m[i], gamma: g[j], tau: 10 ** log10Tau[k] });
      }
    }
  }
  points.push({ ...TOY_TRUTH });
  return points;
}

export const TOY_DESIGNS: Record<'quick' | 'default', ToyDesign> = {
  // For npm test: three points across the box, one pseudo-experiment each, a fifth of the paper's events (a fit
  // takes about 2 s instead of 10 s).
  quick: {
    name: 'quick',
    points: [{ ...TOY_TRUTH }, { m_pole: 66, gamma: 1, tau: 10 ** -2.5 }, { m_pole: 114, gamma: 3, tau: 10 ** -1.5 }],
    size: { nSignal: TOY_PSEUDO_DATA.nSignal / 5, nBackground: TOY_PSEUDO_DATA.nBackground / 5 },
    experiments: 1,
    description: 'three points (the paper\'s, a narrow low-mass and a wide high-mass signal), 200 signal + 20k background events',
  },
  default: {
    name: 'default',
    points: defaultPoints(),
    size: { nSignal: TOY_PSEUDO_DATA.nSignal, nBackground: TOY_PSEUDO_DATA.nBackground },
    experiments: 4,
    description:
      `the 8 corners, 12 edge midpoints and the centre of the box inset by ${100 * DESIGN_INSET} % (τ in decades), and the paper's point; ` +
      `1k signal + 100k background events, as the paper's pseudo-data`,
  },
};

export const TOY_DESIGN_NAMES = Object.keys(TOY_DESIGNS) as (keyof typeof TOY_DESIGNS)[];

/** Item j of a design run is pseudo-experiment j mod E at point ⌊j / E⌋ (E experiments per point). */
export function designItem(index: number, experiments: number): { point: number; experiment: number } {
  return { point: Math.floor(index / experiments), experiment: index % experiments };
}
