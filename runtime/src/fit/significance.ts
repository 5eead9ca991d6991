/**
 * Local significance of a signal from two fits of the same data.
 *
 * Conventions (Cowan, Cranmer, Gross, Vitells, "Asymptotic formulae for likelihood-based tests of new
 * physics", Eur. Phys. J. C 71 (2011) 1554, §2–3):
 * - NLL is −log L (natural log, NOT −2 log L), minimised over all free parameters of each hypothesis.
 * - NLL_b: background-only fit (signal yield fixed to 0). NLL_sb: signal-plus-background fit.
 * - q0 = 2·(NLL_b − NLL_sb) = −2 log λ(0), the discovery test statistic; an excess is positive.
 * - Z = √q0 by Wilks/Wald with one parameter of interest. Z is one-sided and never negative: a fit whose best
 *   signal is a deficit, or an s+b fit that ended above the b-only fit (impossible for nested models at the
 *   true minima), gives Z = 0 — Cowan et al. set q0 = 0 when the fitted signal strength is negative.
 * - "Local": the signal parameters (mass, width, …) were fitted, so Z ignores the look-elsewhere effect; a
 *   global significance needs toys or a trials factor.
 */

export interface LocalSignificance {
  /** √q0 ≥ 0. */
  z: number;
  /** 2·max(0, NLL_b − NLL_sb) (0 for a deficit). */
  q0: number;
  /** NLL_b − NLL_sb as given, negative values included (a negative one flags a failed s+b fit). */
  deltaNll: number;
}

/**
 * Z = √(2·max(0, NLL_b − NLL_sb)). Pass `fittedSignal` (the s+b fit's signal yield or strength) to apply
 * the one-sided convention: a negative fitted signal gives Z = 0.
 */
export function localSignificance(nllBackground: number, nllSignalPlusBackground: number, fittedSignal?: number): LocalSignificance {
  if (!Number.isFinite(nllBackground) || !Number.isFinite(nllSignalPlusBackground)) {
    throw new Error(
      `localSignificance needs finite NLL values, got NLL_b = ${nllBackground}, NLL_sb = ${nllSignalPlusBackground}; ` +
        'check both fits converged.',
    );
  }
  if (fittedSignal !== undefined && Number.isNaN(fittedSignal)) {
    throw new Error('localSignificance: fittedSignal is NaN; pass the fitted signal yield or leave it out.');
  }
  const deltaNll = nllBackground - nllSignalPlusBackground;
  const q0 = fittedSignal !== undefined && fittedSignal < 0 ? 0 : 2 * Math.max(0, deltaNll);
  return { z: Math.sqrt(q0), q0, deltaNll };
}
