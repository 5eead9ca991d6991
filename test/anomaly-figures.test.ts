// Anomaly metrics and figures: the SIC maximum against a brute-force count, mean ± spread, and every figure's
// Vega-Lite spec compiling without warnings, with the outliers of log λ⁻¹ outside the plotted window.
import test from 'ava';
import { Rng } from '../runtime/src/random.ts';
import { densityPlaneFigure, logPVersusInverseLambdaFigure, rocFigure, sicFigure } from '../trainer/src/anomaly/figures.ts';
import { meanAndSpread, scoreMetrics } from '../trainer/src/anomaly/metrics.ts';
import { compileSpec, renderSvg, svgToPng } from '../trainer/src/report/render.ts';

function sample(n: number, seed: number): { score: Float64Array; label: Uint8Array } {
  const rng = new Rng(seed);
  const label = Uint8Array.from({ length: n }, () => (rng.uniform() < 0.2 ? 1 : 0));
  return { score: Float64Array.from(label, (l) => rng.normal() + 1.5 * l), label };
}

test('max SIC equals the brute-force best over thresholds with enough background', (t) => {
  const { score, label } = sample(3000, 1);
  const m = scoreMetrics(score, label, 25);
  const nS = label.reduce((a, l) => a + l, 0);
  const nB = label.length - nS;
  let best = 0;
  for (const threshold of score) {
    let s = 0;
    let b = 0;
    score.forEach((v, i) => {
      if (v >= threshold) label[i] ? s++ : b++;
    });
    if (b >= 25) best = Math.max(best, s / nS / Math.sqrt(b / nB));
  }
  t.true(Math.abs(m.maxSic!.sic - best) < 1e-12, `${m.maxSic!.sic} vs ${best}`);
  t.true(m.roc.length <= 202 && m.roc[0].signalEfficiency === 0 && m.roc.at(-1)!.signalEfficiency === 1);
  t.throws(() => scoreMetrics(Float64Array.of(1, Number.NaN), Uint8Array.of(0, 1)), { message: /score 2 is NaN/ });
  t.deepEqual(meanAndSpread([1, 3]), { mean: 2, spread: Math.SQRT2, count: 2 });
  t.deepEqual(meanAndSpread([5]), { mean: 5, spread: 0, count: 1 });
});

test('the figures compile without warnings and render; log λ⁻¹ outliers fall outside the window', async (t) => {
  const { score, label } = sample(2000, 2);
  const metrics = scoreMetrics(score, label);
  const logPData = Float64Array.from(score, (s, i) => s + (i % 7));
  const logPBackground = Float64Array.from(logPData, (l, i) => l - score[i]);
  // Holes in a re-fitted background density: λ⁻¹ up to e^300 for 1 % of the events.
  for (let i = 0; i < logPBackground.length; i += 100) logPBackground[i] = -300;
  const curves = [{ label: 'a', metrics }, { label: 'b', metrics: scoreMetrics(score.map((s) => -s), label) }];
  for (const spec of [rocFigure(curves, 'ROC'), sicFigure(curves, 'SIC'), densityPlaneFigure(logPBackground, logPData, label, 'plane'), logPVersusInverseLambdaFigure(logPBackground, logPData, label, 'λ')]) {
    t.deepEqual((await compileSpec(spec)).warnings, []);
    t.true(svgToPng(await renderSvg(spec)).length > 1000, 'renders to PNG');
  }
  const spec = logPVersusInverseLambdaFigure(logPBackground, logPData, label, 'λ') as unknown as { layer: { encoding: { x: { scale: { domain: number[] } } } }[] };
  const [lo, hi] = spec.layer[0].encoding.x.scale.domain;
  t.true(hi < 100 && lo > -100, `window [${lo}, ${hi}]`);
});
