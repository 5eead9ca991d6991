// Toy studies (pseudo-experiments): N data sets drawn from the exported flows at a truth point (or bootstrapped
// from the observed events), each fitted like the real data. From them: pull distributions, the coverage of
// Hessian, sandwich and profile-likelihood intervals, the distribution of the discovery statistic q0, and — with
// background-only toys scanned over a signal parameter — the look-elsewhere effect (global p-values from toys
// next to the Gross–Vitells estimate). Every toy has its own random stream (seed, toy index), so a run split
// into shards gives the same toys as one run.
import {
  type ComponentModel,
  type FlowModel,
  type MixtureLikelihood,
  Rng,
  type ScanRequest,
  componentModels,
  fitLikelihood,
  requestLikelihood,
  sampleComponent,
  sandwichErrors,
  sortedQuantile,
  yieldName,
} from '@flowscan/runtime';
import { type ScanGrid, componentLogDensities, grossVitells, scanStatistic, upcrossings } from './lee.ts';
import { type MeanAndWidth, type Proportion, chi2OneDofSurvival, meanAndWidth, normalContent, proportion, significanceOfPValue } from './statistics.ts';

export interface ToysConfig {
  request: ScanRequest;
  /** sha256 of each component's log-density graph: the models the toys were made with, wherever they lie. */
  models: Record<string, string>;
  /** Generation point by parameter name (every free parameter; yields n_<component> in extended mode). */
  truth: Record<string, number>;
  toys: number;
  seed: number;
  /** Toys from the flows' samplers (fixed total for fixed fractions, Poisson yields for extended), or a bootstrap. */
  generation: { from: 'flows'; events: number | null } | { from: 'bootstrap'; events: number; observedSha256: string };
  /** Per-event weights drawn uniformly in [low, high], independent of the event (a check of weighted-fit errors). */
  eventWeights: { low: number; high: number } | null;
  profile: boolean;
  significance: boolean;
  /** Background-only toys scanned over a signal parameter (the look-elsewhere effect). */
  lookElsewhere: { grid: ScanGrid; referenceLevel: number; observed: boolean } | null;
  precision: string;
}

export interface ToyParameter {
  value: number;
  error: number | null;
  sandwichError?: number | null;
  atBound: string;
  intervals?: { level: number; lower: number; upper: number }[];
}

export interface ToyResult {
  /** A pseudo-experiment, or the observed events (look-elsewhere runs scan them too). */
  kind: 'toy' | 'observed';
  /** Events generated per component (or drawn, for a bootstrap). */
  generated: Record<string, number>;
  dropped: number;
  fit?: {
    nll: number;
    converged: boolean;
    reason: string;
    warnings: string[];
    parameters: Record<string, ToyParameter>;
    q0?: number;
  };
  /** q(θ) along the look-elsewhere grid. */
  scan?: number[];
  /** The auxiliary measurements (constraint means) this toy drew, by parameter. */
  constraintMeans?: Record<string, number>;
  seconds: number;
}

/** What a toy run needs besides its configuration: loaded models, observed events if any, a sandwich if weighted. */
export interface ToysContext {
  config: ToysConfig;
  /** The models by component name, a list for an ensemble. */
  models: Record<string, ComponentModel>;
  /** Observed events by feature (bootstrap source; the look-elsewhere scan of the data). */
  observed: { columns: Record<string, Float64Array>; weights: Float64Array | null; count: number } | null;
  memoryBudget?: number;
}

/**
 * The request's likelihood over toy events. Sampled events that land on a support edge (float32 sampler output)
 * are dropped and counted, not refused; `constraints` are the toy's own auxiliary measurements.
 */
function toyLikelihood(
  context: ToysContext,
  request: ScanRequest,
  events: { columns: Record<string, Float64Array>; weights: Float64Array | null },
  constraints?: ScanRequest['constraints'],
): MixtureLikelihood {
  return requestLikelihood(request, context.models, events.columns, {
    outsideSupport: 'drop',
    ...(events.weights ? { weights: events.weights } : {}),
    ...(context.memoryBudget !== undefined ? { memoryBudget: context.memoryBudget } : {}),
    ...(constraints ? { constraints } : {}),
  });
}

/**
 * The request's Gaussian constraints as one toy sees them. A constraint stands for an auxiliary measurement
 * μ ± σ of a parameter; in a pseudo-experiment that measurement fluctuates too, so each toy draws its own
 * μ ~ N(θ₀, σ) around the truth (the "global observables" of a frequentist toy), keeping σ.
 */
function toyConstraints(config: ToysConfig, rng: Rng): ScanRequest['constraints'] {
  const given = config.request.constraints;
  if (!given) return undefined;
  return Object.fromEntries(
    Object.entries(given).map(([name, { width }]) => [name, { mean: (config.truth[name] ?? given[name].mean) + width * rng.normal(), width }]),
  );
}

/** θ of a component from named values (its parameters under their renamed names). */
function componentTheta(request: ScanRequest, component: string, model: FlowModel, values: Record<string, number>): number[] {
  const rename = request.components.find((c) => c.name === component)?.rename ?? {};
  return model.parameterNames.map((p) => {
    const name = rename[p] ?? p;
    const v = values[name] ?? request.fixed?.[name];
    if (v === undefined) throw new Error(`--truth has no value for ${name} (a parameter of component ${component}); give every free parameter`);
    return v;
  });
}

/** Checks that the truth names every free parameter of the request's likelihood, and nothing else. */
export function checkTruth(likelihood: MixtureLikelihood, truth: Record<string, number>): void {
  const free = likelihood.freeNames;
  const missing = free.filter((n) => !(n in truth));
  if (missing.length > 0) throw new Error(`--truth needs a value for every free parameter; missing ${missing.join(', ')} (free: ${free.join(', ')})`);
  const { lower, upper } = likelihood.bounds();
  for (const [name, v] of Object.entries(truth)) {
    const j = free.indexOf(name);
    if (j < 0) throw new Error(`--truth names ${name}, which is not a free parameter of the likelihood (free: ${free.join(', ')})`);
    if (!(Number.isFinite(v) && v >= lower[j] && v <= upper[j])) throw new Error(`--truth ${name} = ${v} lies outside its bounds [${lower[j]}, ${upper[j]}]`);
  }
}

interface ToyEvents {
  columns: Record<string, Float64Array>;
  weights: Float64Array | null;
  count: number;
  generated: Record<string, number>;
}

/** Events of toy `index`: per component a count (multinomial in the fractions, or Poisson in the yields), then samples. */
async function generateToy(context: ToysContext, rng: Rng, backgroundOnly: boolean): Promise<ToyEvents> {
  const { config, models } = context;
  const request = config.request;
  if (config.generation.from === 'bootstrap') {
    const observed = context.observed!;
    const n = config.generation.events;
    const columns = Object.fromEntries(Object.keys(observed.columns).map((k) => [k, new Float64Array(n)]));
    const weights = observed.weights ? new Float64Array(n) : null;
    for (let i = 0; i < n; i++) {
      const j = rng.int(observed.count);
      for (const k of Object.keys(columns)) columns[k][i] = observed.columns[k][j];
      if (weights) weights[i] = observed.weights![j];
    }
    return { columns, weights: withEventWeights(config, rng, weights, n), count: n, generated: { bootstrap: n } };
  }
  const signal = backgroundOnly ? request.signal : undefined;
  const counts: Record<string, number> = {};
  if ((request.yields ?? 'fixed-fractions') === 'extended') {
    for (const c of request.components) counts[c.name] = c.name === signal ? 0 : rng.poisson(config.truth[yieldName(c.name)]);
  } else {
    const parts = request.components.filter((c) => c.name !== signal);
    const total = parts.reduce((s, c) => s + (c.fraction ?? 0), 0);
    for (const c of request.components) counts[c.name] = 0;
    const n = config.generation.events!;
    for (let i = 0; i < n; i++) {
      let u = rng.uniform() * total;
      const pick = parts.find((c) => (u -= c.fraction ?? 0) < 0) ?? parts[parts.length - 1];
      counts[pick.name]++;
    }
  }
  const count = Object.values(counts).reduce((s, v) => s + v, 0);
  const featureNames = componentModels({ model: models[request.components[0].name] })[0].featureNames;
  const columns = Object.fromEntries(featureNames.map((f) => [f, new Float64Array(count)]));
  let at = 0;
  for (const c of request.components) {
    const model = componentModels({ model: models[c.name] })[0];
    const sample = await sampleComponent(models[c.name], componentTheta(request, c.name, model, config.truth), counts[c.name], rng.fork(request.components.indexOf(c)));
    const D = model.dimension;
    model.featureNames.forEach((f, d) => {
      for (let i = 0; i < counts[c.name]; i++) columns[f][at + i] = sample[i * D + d];
    });
    at += counts[c.name];
  }
  return { columns, weights: withEventWeights(config, rng, null, count), count, generated: counts };
}

function withEventWeights(config: ToysConfig, rng: Rng, weights: Float64Array | null, n: number): Float64Array | null {
  if (!config.eventWeights) return weights;
  const { low, high } = config.eventWeights;
  const out = weights ?? new Float64Array(n).fill(1);
  for (let i = 0; i < n; i++) out[i] *= low + (high - low) * rng.uniform();
  return out;
}

function freeStart(likelihood: MixtureLikelihood, values: Record<string, number>): Record<string, number> {
  const { lower, upper } = likelihood.bounds();
  return Object.fromEntries(likelihood.freeNames.map((n, j) => [n, Math.min(upper[j], Math.max(lower[j], values[n]))]));
}

/** The background-only likelihood: the signal component removed (fractions renormalised). */
function backgroundLikelihood(context: ToysContext, events: ToyEvents): { likelihood: MixtureLikelihood; request: ScanRequest } {
  const request = context.config.request;
  const others = request.components.filter((c) => c.name !== request.signal);
  const total = others.reduce((s, c) => s + (c.fraction ?? 0), 0);
  const background: ScanRequest = {
    ...request,
    components: others.map((c) => ({ ...c, ...(c.fraction !== undefined ? { fraction: c.fraction / total } : {}) })),
  };
  return { likelihood: toyLikelihood(context, background, events), request: background };
}

/** q(θ) on the look-elsewhere grid for one data set: background-only fit, then the profiled signal strength per point. */
async function scanEvents(context: ToysContext, events: ToyEvents): Promise<number[]> {
  const { config, models } = context;
  const request = config.request;
  const lee = config.lookElsewhere!;
  const { likelihood, request: background } = backgroundLikelihood(context, events);
  const fit = await fitLikelihood(likelihood, { start: freeStart(likelihood, config.truth), starts: 1, globalSearch: false });
  const fitted = Object.fromEntries(fit.parameters.map((p) => [p.name, p.value]));
  // log p_b per event: the background components mixed with their fractions (or fitted yields).
  const extended = (request.yields ?? 'fixed-fractions') === 'extended';
  const parts = await Promise.all(
    background.components.map(async (c) => {
      const members = componentModels({ model: models[c.name] });
      const theta = Float64Array.from(componentTheta(request, c.name, members[0], fitted));
      const coefficient = extended ? fitted[yieldName(c.name)] : c.fraction!;
      return { log: await componentLogDensities(members, events.columns, events.count, theta), coefficient };
    }),
  );
  const norm = parts.reduce((s, p) => s + p.coefficient, 0);
  const logBackground = new Float64Array(events.count);
  for (let i = 0; i < events.count; i++) {
    let sum = 0;
    for (const p of parts) sum += (p.coefficient / norm) * Math.exp(p.log[i]);
    logBackground[i] = Math.log(sum);
  }
  const signalName = request.signal!;
  const signalMembers = componentModels({ model: models[signalName] });
  // An ensemble's members share their parameters (checked when the models load): the first one's order serves all.
  const signalModel = signalMembers[0];
  const rename = request.components.find((c) => c.name === signalName)?.rename ?? {};
  const scanIndex = signalModel.parameterNames.findIndex((p) => (rename[p] ?? p) === lee.grid.parameter);
  const base = componentTheta(request, signalName, signalModel, config.truth);
  const P = signalModel.parameterCount;
  const thetas = new Float64Array(lee.grid.values.length * P);
  lee.grid.values.forEach((v, k) => base.forEach((b, j) => (thetas[k * P + j] = j === scanIndex ? v : b)));
  return scanStatistic({
    signal: { members: signalMembers, columns: events.columns, thetas },
    logBackground,
    count: events.count,
    weights: events.weights,
  });
}

/** Item `index` of a run: toy `index`, or (index = toys) the observed events of a look-elsewhere run. */
export async function runToy(context: ToysContext, index: number): Promise<ToyResult> {
  const started = performance.now();
  const { config } = context;
  if (index === config.toys) {
    const observed = context.observed!;
    const events: ToyEvents = { ...observed, generated: { observed: observed.count } };
    return { kind: 'observed', generated: events.generated, dropped: 0, scan: await scanEvents(context, events), seconds: (performance.now() - started) / 1000 };
  }
  const rng = new Rng(config.seed).fork(index);
  if (config.lookElsewhere) {
    const events = await generateToy(context, rng, true);
    return { kind: 'toy', generated: events.generated, dropped: 0, scan: await scanEvents(context, events), seconds: (performance.now() - started) / 1000 };
  }
  const events = await generateToy(context, rng, false);
  const constraints = toyConstraints(config, rng.fork(1_000_003));
  const likelihood = toyLikelihood(context, config.request, events, constraints);
  checkTruth(likelihood, config.truth);
  const fit = await fitLikelihood(likelihood, {
    method: config.request.method ?? 'lbfgsb',
    // Toys test the estimator at a known truth, not the search for the global minimum: start there.
    start: freeStart(likelihood, config.truth),
    starts: 1,
    globalSearch: false,
    profile: config.profile,
    ...(config.significance && config.request.signal ? { signal: config.request.signal } : {}),
  });
  const sandwich = events.weights && fit.covariance ? (await sandwichErrors(likelihood, fit)).errors : null;
  const parameters: Record<string, ToyParameter> = {};
  for (const p of fit.parameters) {
    if (p.fixed) continue;
    parameters[p.name] = {
      value: p.value,
      error: p.error ?? null,
      ...(sandwich ? { sandwichError: sandwich[p.name] ?? null } : {}),
      atBound: p.atBound,
      ...(p.intervals ? { intervals: p.intervals.map((iv) => ({ level: iv.level, lower: iv.lower, upper: iv.upper })) } : {}),
    };
  }
  return {
    kind: 'toy',
    generated: events.generated,
    ...(constraints ? { constraintMeans: Object.fromEntries(Object.entries(constraints).map(([name, c]) => [name, c.mean])) } : {}),
    dropped: likelihood.data.droppedOutsideSupport,
    fit: {
      nll: fit.nll,
      converged: fit.converged,
      reason: fit.reason,
      warnings: fit.warnings,
      parameters,
      ...(fit.significance ? { q0: fit.significance.q0 } : {}),
    },
    seconds: (performance.now() - started) / 1000,
  };
}

/** Items of a run: the toys, plus the observed events when a look-elsewhere run scans them too. */
export function itemCount(config: ToysConfig): number {
  return config.toys + (config.lookElsewhere?.observed ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Summary over all toys

export interface CoverageSummary {
  /** Nominal content (0.6827 for ±1σ / ΔNLL = 0.5, 0.9545 for ±2σ / ΔNLL = 2). */
  nominal: number;
  observed: Proportion;
}

export interface ParameterSummary {
  truth: number;
  /** (θ̂ − θ_true)/σ̂ over toys with a Hessian error. */
  pull: MeanAndWidth;
  /** θ̂ − θ_true. */
  bias: MeanAndWidth;
  hessian: CoverageSummary[];
  sandwich?: CoverageSummary[];
  profile?: CoverageSummary[];
  /** Toys whose fit ended on a bound of this parameter. */
  atBound: number;
}

export interface LookElsewhereSummary {
  parameter: string;
  grid: number[];
  referenceLevel: number;
  meanUpcrossings: { value: number; error: number };
  /** P(max q ≥ u): from the toys, the Gross–Vitells estimate, and the local ½P(χ²₁ ≥ u) for comparison. */
  thresholds: { u: number; localZ: number; local: number; toys: Proportion; grossVitells: number }[];
  observed?: { qMax: number; at: number; localZ: number; globalToys: Proportion; globalZToys: number; globalGrossVitells: number; globalZGrossVitells: number };
}

export interface ToysSummary {
  toys: number;
  fits?: { converged: number; withErrors: number; withWarnings: number; seconds: MeanAndWidth };
  parameters?: Record<string, ParameterSummary>;
  q0?: { median: number; quantiles: Record<string, number>; fractionAbove: { u: number; fraction: Proportion; chi2Half: number }[] };
  lookElsewhere?: LookElsewhereSummary;
}

const COVERAGE_LEVELS = [
  { sigmas: 1, deltaNll: 0.5 },
  { sigmas: 2, deltaNll: 2 },
];

function coverage(hits: boolean[][]): CoverageSummary[] {
  return COVERAGE_LEVELS.map((level, l) => ({ nominal: normalContent(level.sigmas), observed: proportion(hits[l].filter(Boolean).length, hits[l].length) }));
}

export function summarizeToys(config: ToysConfig, results: ToyResult[]): ToysSummary {
  const toys = results.filter((r) => r.kind === 'toy');
  const summary: ToysSummary = { toys: toys.length };
  const fitted = toys.filter((r) => r.fit);
  if (fitted.length > 0) {
    summary.fits = {
      converged: fitted.filter((r) => r.fit!.converged).length,
      withErrors: fitted.filter((r) => Object.values(r.fit!.parameters).every((p) => p.error !== null)).length,
      withWarnings: fitted.filter((r) => r.fit!.warnings.length > 0).length,
      seconds: meanAndWidth(fitted.map((r) => r.seconds)),
    };
    summary.parameters = {};
    for (const name of Object.keys(fitted[0].fit!.parameters)) {
      const truth = config.truth[name];
      const rows = fitted.map((r) => r.fit!.parameters[name]);
      const withError = rows.filter((p) => p.error !== null && p.error > 0);
      const within = (errorOf: (p: ToyParameter) => number | null | undefined) =>
        COVERAGE_LEVELS.map((level) =>
          rows.flatMap((p) => {
            const e = errorOf(p);
            return e === null || e === undefined || !(e > 0) ? [] : [Math.abs(p.value - truth) <= level.sigmas * e];
          }),
        );
      const parameter: ParameterSummary = {
        truth,
        pull: meanAndWidth(withError.map((p) => (p.value - truth) / p.error!)),
        bias: meanAndWidth(rows.map((p) => p.value - truth)),
        hessian: coverage(within((p) => p.error)),
        atBound: rows.filter((p) => p.atBound !== 'free').length,
      };
      if (rows.some((p) => p.sandwichError !== undefined)) parameter.sandwich = coverage(within((p) => p.sandwichError));
      if (rows.some((p) => p.intervals)) {
        parameter.profile = coverage(
          COVERAGE_LEVELS.map((level) =>
            rows.flatMap((p) => {
              const iv = p.intervals?.find((i) => i.level === level.deltaNll);
              return iv ? [iv.lower <= truth && truth <= iv.upper] : [];
            }),
          ),
        );
      }
      summary.parameters[name] = parameter;
    }
    const q0 = fitted.flatMap((r) => (r.fit!.q0 !== undefined ? [r.fit!.q0] : [])).sort((a, b) => a - b);
    if (q0.length > 0) {
      summary.q0 = {
        median: sortedQuantile(q0, 0.5),
        quantiles: Object.fromEntries([0.05, 0.16, 0.5, 0.84, 0.95].map((q) => [String(q), sortedQuantile(q0, q)])),
        fractionAbove: [1, 4, 9, 16, 25].map((u) => ({ u, fraction: proportion(q0.filter((v) => v >= u).length, q0.length), chi2Half: 0.5 * chi2OneDofSurvival(u) })),
      };
    }
  }
  if (config.lookElsewhere) summary.lookElsewhere = summarizeLookElsewhere(config, results);
  return summary;
}

function summarizeLookElsewhere(config: ToysConfig, results: ToyResult[]): LookElsewhereSummary {
  const lee = config.lookElsewhere!;
  const scans = results.filter((r) => r.kind === 'toy' && r.scan).map((r) => r.scan!);
  const maxima = scans.map((q) => Math.max(...q));
  const crossings = scans.map((q) => upcrossings(q, lee.referenceLevel));
  const mean = meanAndWidth(crossings);
  const meanUpcrossings = { value: mean.mean, error: mean.meanError };
  const globalP = (u: number) => proportion(maxima.filter((m) => m >= u).length, maxima.length);
  const summary: LookElsewhereSummary = {
    parameter: lee.grid.parameter,
    grid: lee.grid.values,
    referenceLevel: lee.referenceLevel,
    meanUpcrossings,
    thresholds: [1, 2, 3, 4, 5].map((z) => {
      const u = z * z;
      return { u, localZ: z, local: 0.5 * chi2OneDofSurvival(u), toys: globalP(u), grossVitells: grossVitells(u, lee.referenceLevel, meanUpcrossings.value) };
    }),
  };
  const observed = results.find((r) => r.kind === 'observed');
  if (observed?.scan) {
    const qMax = Math.max(...observed.scan);
    const at = lee.grid.values[observed.scan.indexOf(qMax)];
    const toysP = globalP(qMax);
    const gv = grossVitells(qMax, lee.referenceLevel, meanUpcrossings.value);
    summary.observed = {
      qMax,
      at,
      localZ: Math.sqrt(qMax),
      globalToys: toysP,
      globalZToys: significanceOfPValue(toysP.fraction),
      globalGrossVitells: gv,
      globalZGrossVitells: significanceOfPValue(gv),
    };
  }
  return summary;
}

function pct(p: Proportion): string {
  return `${(100 * p.fraction).toFixed(1)} ± ${(100 * p.error).toFixed(1)} %`;
}

/** The summary as terminal text. */
export function summaryText(summary: ToysSummary): string {
  const lines: string[] = [`${summary.toys} toys`];
  if (summary.fits) {
    const f = summary.fits;
    lines.push(`fits: ${f.converged} converged, ${f.withErrors} with Hessian errors, ${f.withWarnings} with warnings; ${f.seconds.mean.toFixed(2)} s per toy`);
  }
  if (summary.parameters) {
    const header = ['parameter', 'truth', 'pull mean', 'pull width', '±1σ Hessian', '±2σ Hessian', '±1σ sandwich', 'ΔNLL 0.5 profile', 'ΔNLL 2 profile', 'at bound'];
    const rows = Object.entries(summary.parameters).map(([name, p]) => [
      name,
      p.truth.toPrecision(4),
      `${p.pull.mean.toFixed(3)} ± ${p.pull.meanError.toFixed(3)}`,
      `${p.pull.width.toFixed(3)} ± ${p.pull.widthError.toFixed(3)}`,
      pct(p.hessian[0].observed),
      pct(p.hessian[1].observed),
      p.sandwich ? pct(p.sandwich[0].observed) : '',
      p.profile ? pct(p.profile[0].observed) : '',
      p.profile ? pct(p.profile[1].observed) : '',
      String(p.atBound),
    ]);
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
    const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
    lines.push('', line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line));
    lines.push(`nominal coverage: ±1σ / ΔNLL 0.5 → ${(100 * normalContent(1)).toFixed(1)} %, ±2σ / ΔNLL 2 → ${(100 * normalContent(2)).toFixed(1)} %`);
  }
  if (summary.q0) {
    lines.push('', `q0: median ${summary.q0.median.toFixed(2)}; ${summary.q0.fractionAbove.map((a) => `P(q0 ≥ ${a.u}) = ${pct(a.fraction)}`).join(', ')}`);
  }
  if (summary.lookElsewhere) {
    const l = summary.lookElsewhere;
    lines.push(
      '',
      `look-elsewhere over ${l.parameter} ∈ [${l.grid[0]}, ${l.grid[l.grid.length - 1]}] (${l.grid.length} points): ` +
        `⟨N(u₀ = ${l.referenceLevel})⟩ = ${l.meanUpcrossings.value.toFixed(3)} ± ${l.meanUpcrossings.error.toFixed(3)} upcrossings per toy`,
      'local Z  u = Z²  local p     global p (toys)      global p (Gross–Vitells)',
      ...l.thresholds.map((t) => `${String(t.localZ).padEnd(7)}  ${String(t.u).padEnd(6)}  ${t.local.toExponential(2)}  ${`${t.toys.fraction.toExponential(2)} ± ${t.toys.error.toExponential(1)}`.padEnd(19)}  ${t.grossVitells.toExponential(2)}`),
    );
    if (l.observed) {
      const o = l.observed;
      lines.push(
        `observed: max q = ${o.qMax.toFixed(2)} at ${l.parameter} = ${o.at.toPrecision(5)} → local Z = ${o.localZ.toFixed(2)}; ` +
          `global p = ${o.globalToys.fraction.toExponential(2)} from toys (Z = ${fmtZ(o.globalZToys)}), ${o.globalGrossVitells.toExponential(2)} by Gross–Vitells (Z = ${fmtZ(o.globalZGrossVitells)})`,
      );
    }
  }
  return lines.join('\n');
}

function fmtZ(z: number): string {
  return Number.isFinite(z) ? z.toFixed(2) : z > 0 ? '> what the toys resolve' : '—';
}
