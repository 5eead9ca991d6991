// What an ensemble's members say about a fit: how far the training noise of its flows moves the fitted parameters.
// The ensemble's density is the mean of its M members'. Each member's own fit lies, to first order in how the
// members differ, one Newton step from the ensemble's best point θ̂:
//   θ̂_m − θ̂ ≈ −C·∇NLL_m(θ̂),
// with C the ensemble fit's covariance and NLL_m the likelihood with member m alone in place of the ensemble. The
// ensemble's own offset from a noiseless template is about the mean of these offsets, so their standard deviation
// over members divided by √M estimates the ensemble fit's error from training noise (independent members): an
// error to add to the statistical one in quadrature. One gradient evaluation per member; no refits.
import { type FitResult, fittedPointAndCovariance } from './fit-result.ts';
import type { MixtureLikelihood } from './mixture.ts';

export interface EnsembleSpread {
  component: string;
  /** The free parameters, in the order of every array below (the fit's freeNames). */
  names: string[];
  /** Per member: its own fit minus the ensemble's, one value per free parameter (the Newton step −C·∇NLL_m). */
  memberOffsets: number[][];
  /** Per free parameter: the standard deviation of the members' offsets (M − 1 in the denominator). */
  memberWidth: number[];
  /** Per free parameter: the ensemble fit's error from its members' training noise, memberWidth/√M. */
  trainingError: number[];
}

/**
 * The training spread of an ensemble component at a fit of `likelihood` (the fit's covariance is needed). The
 * Newton steps ignore parameter bounds: at a bound, a member's offset is where its fit would go without it.
 */
export async function ensembleSpread(likelihood: MixtureLikelihood, fit: FitResult, component: string): Promise<EnsembleSpread> {
  const members = likelihood.ensembleSizes()[component];
  if (members === undefined) throw new Error(`no component "${component}" in this likelihood: it has ${likelihood.componentNames().join(', ')}`);
  if (members < 2) throw new Error(`component "${component}" is one flow: a training spread needs an ensemble of ≥ 2 flows`);
  const { names, best, covariance: C } = fittedPointAndCovariance(likelihood, fit, "the members' Newton steps need it");
  const memberOffsets: number[][] = [];
  for (let m = 0; m < members; m++) {
    const { gradients } = await likelihood.ensembleMember(component, m).evaluate(best, 1, true);
    memberOffsets.push(C.map((row) => -row.reduce((s, c, j) => s + c * gradients![j], 0)));
  }
  const memberWidth = names.map((_, j) => {
    const mean = memberOffsets.reduce((s, o) => s + o[j], 0) / members;
    return Math.sqrt(memberOffsets.reduce((s, o) => s + (o[j] - mean) ** 2, 0) / (members - 1));
  });
  return { component, names, memberOffsets, memberWidth, trainingError: memberWidth.map((w) => w / Math.sqrt(members)) };
}
