// The report of `flowscan compare --report DIR`: each feature's histograms with their ratio panel (SVG and PNG) and
// the two-sample statistics, in one report.html.
import { join } from 'node:path';
import { writeFileAtomic } from '@flowscan/runtime/node';
import type { ComparisonResult } from '../compare/compare.ts';
import { type ReportFigure, type ReportSection, buildReport } from './html.ts';
import { writeFigure } from './render.ts';

/** Writes `<dir>/figures/ratio-<feature>.svg|png` and `<dir>/report.html`; returns the report's path. */
export async function writeCompareReport(dir: string, result: ComparisonResult, files: { generated: string; reference: string }): Promise<string> {
  const figures: ReportFigure[] = [];
  for (const f of result.features) {
    const name = `ratio-${f.feature.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const caption = `${f.feature}: the generated histogram scaled to the reference's total, with the ratio generated/reference below (${f.binning.bins} bins in [${f.binning.lo}, ${f.binning.hi}]).`;
    figures.push({ name, caption, ...(await writeFigure(join(dir, 'figures'), name, f.figure)) });
  }
  const c = result.c2st;
  const sections: ReportSection[] = [
    {
      heading: 'Two-sample statistics',
      text: [
        `${files.generated} (${result.generated.events} events) against ${files.reference} (${result.reference.events} events).`,
        'KS: unbinned, unweighted. χ²: binned, with both samples\' errors √Σw². KL(reference ‖ generated), Jensen–Shannon and Hellinger of the normalised histograms: 0 for identical shapes.',
        ...(c ? [`Classifier two-sample test: AUC ${c.auc.toFixed(4)} ± ${c.aucError.toFixed(4)} (0.5: indistinguishable), permutation p ${c.permutationPValue.toPrecision(3)} (${c.permutations} permutations, ${c.folds} folds, ${c.events[0]} + ${c.events[1]} events).`] : []),
      ].join('\n\n'),
      tables: [
        {
          caption: 'Per feature',
          columns: ['feature', 'KS D', 'KS p', 'χ²', 'ndf', 'χ² p', 'KL', 'Jensen–Shannon', 'Hellinger'],
          rows: result.features.map((f) => [f.feature, f.ks.statistic, f.ks.pValue, f.chi2.chi2, f.chi2.ndf, f.chi2.pValue, f.divergences.kl, f.divergences.jensenShannon, f.divergences.hellinger]),
        },
      ],
    },
    { heading: 'Histograms and ratios', figures },
  ];
  const reportPath = join(dir, 'report.html');
  await writeFileAtomic(reportPath, buildReport({ title: 'flowscan compare', subtitle: `${files.generated} against ${files.reference}`, sections }));
  return reportPath;
}
