// The local significance of a fit's signal against the background-only hypothesis.
import { type StartResult, minimize } from '../fit/minimize.ts';
import { localSignificance } from '../fit/significance.ts';
import type { FitResult } from './fit-result.ts';
import { type FitContext, addCounts, minimizerOptions } from './fit-settings.ts';
import { type MixtureLikelihood, yieldName } from './mixture.ts';

/**
 * The local significance of `signal` (FitOptions.signal): the background-only hypothesis has the signal's yield
 * (extended) or fraction (fixed fractions) zero; its shape parameters then do not matter and are held at the best
 * fit. Returns it with the graph runs of the background-only likelihood (a variant with its own count).
 */
export async function backgroundOnlySignificance(ctx: FitContext, signal: string, best: StartResult): Promise<{ significance: NonNullable<FitResult['significance']>; graphRuns: number }> {
  const { likelihood, options, scales } = ctx;
  if (!likelihood.componentNames().includes(signal)) {
    throw new Error(`unknown signal component "${signal}": components are ${likelihood.componentNames().join(', ')}`);
  }
  const fullBest = likelihood.fullPoint(best.x);
  const signalParams = Object.fromEntries(
    likelihood.parameters.map((p, i) => [p, i] as const).filter(([p]) => p.component === signal).map(([p, i]) => [p.name, fullBest[i]]),
  );
  let background: MixtureLikelihood;
  if (likelihood.yields === 'extended') {
    background = likelihood.variant({ fixed: { ...signalParams, [yieldName(signal)]: 0 } });
  } else {
    const fractions = likelihood.fractions();
    const rest = 1 - fractions[signal];
    if (!(rest > 0)) throw new Error('the background-only hypothesis needs a non-signal fraction > 0');
    const scaled = Object.fromEntries(Object.entries(fractions).map(([c, f]) => [c, c === signal ? 0 : f / rest]));
    background = likelihood.variant({ fixed: signalParams, fractions: scaled });
  }
  const bStart = Float64Array.from(background.freeNames, (name) => fullBest[likelihood.parameters.findIndex((p) => p.name === name)]);
  // A background without free parameters (an unconditional flow) needs no fit: evaluate it once.
  const bFit =
    background.dimension === 0
      ? { best: { value: (await background.evaluate(new Float64Array(0), 1, false)).values[0] }, evaluations: { calls: 1, points: 1 }, wallMs: 0 }
      : await minimize(background, {
          ...minimizerOptions(ctx.method, ctx.tolerances),
          starts: bStart,
          bounds: background.bounds(),
          scales: Float64Array.from(background.freeNames, (name) => scales[likelihood.freeNames.indexOf(name)]),
          onProgress: (p) => options.onProgress?.('background-only fit', p),
        });
  addCounts(ctx.counts, bFit.evaluations);
  options.onStage?.('background-only fit', bFit.evaluations.calls, bFit.wallMs / 1000);
  const signalYield = likelihood.yields === 'extended' ? fullBest[likelihood.parameters.findIndex((p) => p.name === yieldName(signal))] : undefined;
  const s = localSignificance(bFit.best.value, best.value, signalYield);
  return { significance: { z: s.z, q0: s.q0, nllBackgroundOnly: bFit.best.value, signal }, graphRuns: background.graphRuns };
}
