// From validation items to a calibration per design point and parameter, and the verdict against the goal of
// flowscan issue 12: at every point, the mean pull within ±0.3σ and the σ ratio within 10 %.
//
// Toy reference (exact likelihood on the same events): pull = (flow − exact)/σ_exact, ratio = σ_flow/σ_exact,
// averaged over the point's pseudo-experiments; the goal applies to the means.
// Held-out reference (truth): pull = (fit − truth)/σ_fit, whose mean estimates the bias and whose width the
// error scale (width > 1: errors too small). These pulls carry the data's full fluctuation, so a point fails only
// when the bias or the width lies outside the goal by more than two standard errors (n files resolve a bias of
// about 2/√n σ); the coverage of ±1σ (68.3 % if the errors are right) is reported beside them.
import type { ShardItem } from '../shards/shards.ts';
import { type FitValues, type ParameterAxis, usableError } from './fits.ts';
import type { HeldOutConfig, HeldOutItem } from './heldout.ts';
import type { ToyItem, ToyValidationConfig } from './toy.ts';

/** |mean pull| at most this many σ. */
export const PULL_GOAL = 0.3;
/** σ ratio (toy) or pull width (held-out) within 1 ± this. */
export const SCALE_GOAL = 0.1;
/** Standard errors a held-out estimate must lie beyond the goal to fail it. */
export const HELD_OUT_MARGIN = 2;

export interface Estimate {
  mean: number;
  /** Standard error of the mean, s/√n; null below two values. */
  error: number | null;
  /** Sample standard deviation; null below two values. */
  sd: number | null;
  n: number;
}

export function estimate(values: readonly number[]): Estimate {
  const n = values.length;
  if (n === 0) return { mean: NaN, error: null, sd: null, n };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, error: null, sd: null, n };
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { mean, error: sd / Math.sqrt(n), sd, n };
}

export interface ParameterCalibration {
  parameter: string;
  pull: Estimate;
  /**
   * The error scale: toy, the mean σ_flow/σ_exact; held-out, the width (standard deviation) of the pulls with its
   * standard error ≈ max(width, 1)/√(2(n − 1)).
   */
  scale: { value: number; error: number | null; n: number };
  /** Held-out: the fraction of files whose truth lies within ±1σ_fit of the fit. */
  coverage?: number;
  /** Pseudo-experiments that gave no pull for this parameter (a failed fit, a minimum at a bound, no error). */
  excluded: number;
  /** Which part of the goal the point misses for this parameter. */
  misses: { pull: boolean; scale: boolean };
  /** null: no pseudo-experiment gave a pull. */
  pass: boolean | null;
  /** What misses the goal, in words. */
  problems: string[];
}

export interface PointCalibration {
  index: number;
  truth: Record<string, number>;
  name?: string;
  parameters: ParameterCalibration[];
  /** Pseudo-experiments at the point. */
  experiments: number;
  /** Failed fits and flow fits that did not converge, in words. */
  notes: string[];
  pass: boolean | null;
}

export interface WorstPoint {
  parameter: string;
  /** Point index with the largest |mean pull|, and that pull. */
  pull: { point: number; value: number } | null;
  /** Point index whose error scale lies furthest from 1, and that scale. */
  scale: { point: number; value: number } | null;
}

export interface Calibration {
  reference: 'toy' | 'held-out';
  goal: { pull: number; scale: number; heldOutMargin?: number };
  parameters: ParameterAxis[];
  points: PointCalibration[];
  worst: WorstPoint[];
  /** CPU seconds of all items together. */
  itemSeconds: number;
}

const signed = (v: number, digits = 2): string => (v < 0 ? `−${(-v).toFixed(digits)}` : `+${v.toFixed(digits)}`);

interface Samples {
  pulls: number[];
  scales: number[];
  excluded: number;
}

interface Tally {
  /** Per point, per parameter: the pulls and error-scale samples of its pseudo-experiments. */
  samples: Samples[][];
  /** Per point: what went wrong in its fits. */
  notes: string[][];
  itemSeconds: number;
}

/**
 * Hands every item to `visit` with its point's samples and notes; adds up the items' time. `visit` returns the flow
 * fit it used (nothing for a failed item), so that fits without errors (no positive-definite Hessian at their
 * minimum: a pull but no error scale) are counted in one note per point.
 */
function tally<T extends { point: number; seconds: number }>(
  points: number,
  parameters: number,
  items: ShardItem<T>[],
  visit: (item: T, at: Samples[], notes: string[]) => FitValues | undefined,
): Tally {
  const t: Tally = {
    samples: Array.from({ length: points }, () => Array.from({ length: parameters }, () => ({ pulls: [], scales: [], excluded: 0 }))),
    notes: Array.from({ length: points }, () => []),
    itemSeconds: 0,
  };
  const withoutErrors = Array.from({ length: points }, () => ({ fits: 0, of: 0, names: new Set<string>() }));
  for (const { result } of items) {
    t.itemSeconds += result.seconds;
    const fit = visit(result, t.samples[result.point], t.notes[result.point]);
    if (!fit) continue;
    const count = withoutErrors[result.point];
    const missing = Object.keys(fit.errors).filter((name) => fit.errors[name] === null);
    count.of += 1;
    if (missing.length > 0) count.fits += 1;
    for (const name of missing) count.names.add(name);
  }
  withoutErrors.forEach(({ fits, of, names }, point) => {
    if (fits > 0) t.notes[point].push(`${fits} of ${of} flow fits gave no error for ${[...names].join(', ')} (no positive-definite Hessian at their minimum)`);
  });
  return t;
}

/** A failed fit gives no sample for any parameter. */
function excludeAll(at: Samples[]): void {
  for (const s of at) s.excluded += 1;
}

function worstPoints(points: PointCalibration[], parameters: ParameterAxis[], scaleTarget: number): WorstPoint[] {
  return parameters.map((axis, j) => {
    let pull: WorstPoint['pull'] = null;
    let scale: WorstPoint['scale'] = null;
    for (const p of points) {
      const c = p.parameters[j];
      if (c.pull.n > 0 && (pull === null || Math.abs(c.pull.mean) > Math.abs(pull.value))) pull = { point: p.index, value: c.pull.mean };
      if (c.scale.n > 0 && Number.isFinite(c.scale.value) && (scale === null || Math.abs(c.scale.value - scaleTarget) > Math.abs(scale.value - scaleTarget))) {
        scale = { point: p.index, value: c.scale.value };
      }
    }
    return { parameter: axis.name, pull, scale };
  });
}

function pointVerdict(parameters: ParameterCalibration[]): boolean | null {
  if (parameters.some((c) => c.pass === false)) return false;
  return parameters.every((c) => c.pass === null) ? null : true;
}

/** The toy calibration: flow fits against exact fits on the same pseudo-experiments. */
export function toyCalibration(config: ToyValidationConfig, items: ShardItem<ToyItem>[]): Calibration {
  const { samples, notes, itemSeconds } = tally(config.points.length, config.parameters.length, items, (item, at, pointNotes) => {
    if ('failure' in item) {
      pointNotes.push(`experiment ${item.experiment} failed: ${item.failure}`);
      excludeAll(at);
      return undefined;
    }
    if (!item.flow.converged) pointNotes.push(`experiment ${item.experiment}: the flow fit did not converge (${item.flow.warnings.join('; ')})`);
    config.parameters.forEach(({ name }, j) => {
      const sigmaExact = usableError(item.exact, name);
      if (sigmaExact === null || item.flow.atBound[name] !== 'free') {
        at[j].excluded += 1;
        return;
      }
      at[j].pulls.push((item.flow.values[name] - item.exact.values[name]) / sigmaExact);
      const sigmaFlow = usableError(item.flow, name);
      if (sigmaFlow !== null) at[j].scales.push(sigmaFlow / sigmaExact);
    });
    return item.flow;
  });
  const points = config.points.map((truth, index): PointCalibration => {
    const parameters = config.parameters.map(({ name }, j): ParameterCalibration => {
      const s = samples[index][j];
      const pull = estimate(s.pulls);
      const ratio = estimate(s.scales);
      const misses = { pull: pull.n > 0 && Math.abs(pull.mean) > PULL_GOAL, scale: ratio.n > 0 && Math.abs(ratio.mean - 1) > SCALE_GOAL };
      const problems: string[] = [];
      if (misses.pull) problems.push(`${name} pull ${signed(pull.mean)}σ beyond ±${PULL_GOAL}σ`);
      if (misses.scale) problems.push(`${name} σ ratio ${ratio.mean.toFixed(2)} outside 1 ± ${SCALE_GOAL}`);
      return {
        parameter: name,
        pull,
        scale: { value: ratio.mean, error: ratio.error, n: ratio.n },
        excluded: s.excluded,
        misses,
        pass: pull.n === 0 ? null : problems.length === 0,
        problems,
      };
    });
    return { index, truth: { ...truth }, parameters, experiments: config.experiments, notes: notes[index], pass: pointVerdict(parameters) };
  });
  return {
    reference: 'toy',
    goal: { pull: PULL_GOAL, scale: SCALE_GOAL },
    parameters: config.parameters,
    points,
    worst: worstPoints(points, config.parameters, 1),
    itemSeconds,
  };
}

/** The held-out calibration: flow fits of simulated files against the truth they were simulated at. */
export function heldOutCalibration(config: HeldOutConfig, items: ShardItem<HeldOutItem>[]): Calibration {
  const { samples, notes, itemSeconds } = tally(config.points.length, config.parameters.length, items, (item, at, pointNotes) => {
    if ('failure' in item) {
      pointNotes.push(`fit failed: ${item.failure}`);
      excludeAll(at);
      return undefined;
    }
    const file = config.points[item.point].files[item.file];
    if (!item.fit.converged) pointNotes.push(`${file}: the fit did not converge (${item.fit.warnings.join('; ')})`);
    if (item.dropped > 0) pointNotes.push(`${file}: ${item.dropped} events outside the models' support were left out`);
    const truth = config.points[item.point].truth;
    config.parameters.forEach(({ name }, j) => {
      if (!(name in truth)) return;
      const sigma = usableError(item.fit, name);
      if (sigma === null) at[j].excluded += 1;
      else at[j].pulls.push((item.fit.values[name] - truth[name]) / sigma);
    });
    return item.fit;
  });
  const points = config.points.map((point, index): PointCalibration => {
    const parameters = config.parameters.map(({ name }, j): ParameterCalibration => {
      const s = samples[index][j];
      const pull = estimate(s.pulls);
      // Unit-width pulls are the hypothesis, so the standard errors never go below its: a single file resolves a
      // bias of ±1σ, and two files that happen to agree closely do not make a narrow width significant.
      const biasError = Math.max(pull.sd ?? 1, 1) / Math.sqrt(Math.max(pull.n, 1));
      const widthError = pull.sd !== null ? Math.max(pull.sd, 1) / Math.sqrt(2 * (pull.n - 1)) : null;
      const misses = {
        pull: pull.n > 0 && Math.abs(pull.mean) - HELD_OUT_MARGIN * biasError > PULL_GOAL,
        scale: pull.sd !== null && widthError !== null && Math.abs(pull.sd - 1) - HELD_OUT_MARGIN * widthError > SCALE_GOAL,
      };
      const problems: string[] = [];
      if (misses.pull) problems.push(`${name} bias ${signed(pull.mean)} ± ${biasError.toFixed(2)}σ beyond ±${PULL_GOAL}σ`);
      if (misses.scale) {
        const width = pull.sd as number;
        problems.push(`${name} pull width ${width.toFixed(2)} ± ${(widthError as number).toFixed(2)} outside 1 ± ${SCALE_GOAL} (errors too ${width > 1 ? 'small' : 'large'})`);
      }
      return {
        parameter: name,
        pull,
        scale: { value: pull.sd ?? NaN, error: widthError, n: pull.sd === null ? 0 : pull.n },
        ...(pull.n > 0 ? { coverage: s.pulls.filter((v) => Math.abs(v) <= 1).length / pull.n } : {}),
        excluded: s.excluded,
        misses,
        pass: pull.n === 0 ? null : problems.length === 0,
        problems,
      };
    });
    return {
      index,
      truth: { ...point.truth },
      ...(point.name ? { name: point.name } : {}),
      parameters,
      experiments: point.files.length,
      notes: notes[index],
      pass: pointVerdict(parameters),
    };
  });
  return {
    reference: 'held-out',
    goal: { pull: PULL_GOAL, scale: SCALE_GOAL, heldOutMargin: HELD_OUT_MARGIN },
    parameters: config.parameters,
    points,
    worst: worstPoints(points, config.parameters, 1),
    itemSeconds,
  };
}
