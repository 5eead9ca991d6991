// The report of pseudo-experiments (`flowscan toys --report DIR`): the summary's pull histograms and look-elsewhere
// curves (written by writeToysSummary), a coverage figure, and the tables, in one report.html.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { plots } from '@flowscan/runtime';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { writeToysSummary } from '../toys/run.ts';
import { type ToyResult, type ToysConfig, type ToysSummary, summarizeToys } from '../toys/toys.ts';
import { type ReportFigure, type ReportSection, type ReportTable, buildReport } from './html.ts';
import { writeFigure } from './render.ts';

/** "68.3 ± 1.5 %" */
function percent(p: { fraction: number; error: number }): string {
  return `${(100 * p.fraction).toFixed(1)} ± ${(100 * p.error).toFixed(1)} %`;
}

/** The coverage of every interval kind the toys computed, per parameter and level. */
function coveragePoints(summary: ToysSummary): plots.CoveragePoint[] {
  return Object.entries(summary.parameters ?? {}).flatMap(([name, p]) =>
    (
      [
        ['Hessian', p.hessian],
        ['sandwich', p.sandwich],
        ['profile', p.profile],
      ] as const
    ).flatMap(([kind, levels]) =>
      (levels ?? []).map((c, level) => ({
        group: name,
        method: `${kind} ${kind === 'profile' ? `ΔNLL ${level === 0 ? '0.5' : '2'}` : `±${level + 1}σ`}`,
        nominal: c.nominal,
        observed: c.observed.fraction,
        error: c.observed.error,
      })),
    ),
  );
}

function parameterTable(summary: ToysSummary): ReportTable[] {
  if (!summary.parameters) return [];
  const rows = Object.entries(summary.parameters).map(([name, p]) => [
    name,
    p.truth,
    `${p.pull.mean.toFixed(3)} ± ${p.pull.meanError.toFixed(3)}`,
    `${p.pull.width.toFixed(3)} ± ${p.pull.widthError.toFixed(3)}`,
    percent(p.hessian[0].observed),
    percent(p.hessian[1].observed),
    p.profile ? percent(p.profile[0].observed) : '',
    p.profile ? percent(p.profile[1].observed) : '',
    p.atBound,
  ]);
  return [
    {
      caption: 'Pulls (θ̂ − truth)/σ̂ and coverage; nominal: ±1σ and ΔNLL 0.5 → 68.3 %, ±2σ and ΔNLL 2 → 95.4 %',
      columns: ['parameter', 'truth', 'pull mean', 'pull width', '±1σ Hessian', '±2σ Hessian', 'ΔNLL 0.5 profile', 'ΔNLL 2 profile', 'toys at a bound'],
      rows,
    },
  ];
}

/**
 * Writes the summary (summary.json and its figures, as an unsharded run does), a coverage figure and report.html
 * into `dir`; returns the report's path.
 */
export async function writeToysReport(dir: string, config: ToysConfig, results: ToyResult[]): Promise<string> {
  await writeToysSummary(config, results, dir);
  const summary = summarizeToys(config, results);
  const figDir = join(dir, 'figures');
  const paths = (name: string) => ({ svgPath: join(figDir, `${name}.svg`), pngPath: join(figDir, `${name}.png`) });
  const pulls: ReportFigure[] = Object.keys(summary.parameters ?? {})
    .filter((name) => existsSync(paths(`pulls-${name}`).svgPath))
    .map((name) => ({ name: `pulls-${name}`, caption: `Pulls of ${name} over the toys against N(0, 1): a calibrated fit has mean 0 and width 1.`, ...paths(`pulls-${name}`) }));
  const points = coveragePoints(summary);
  const coverage: ReportFigure[] =
    points.length > 0
      ? [
          {
            name: 'coverage',
            caption: 'Fraction of toys whose interval holds the truth (binomial errors) against the nominal content (dashed): below the line, the intervals are too short.',
            ...(await writeFigure(figDir, 'coverage', plots.coverageFigure({ title: `Interval coverage over ${summary.toys} toys`, points }))),
          },
        ]
      : [];
  const lee: ReportFigure[] = summary.lookElsewhere
    ? [{ name: 'look-elsewhere', caption: 'Global p-value of the largest local excess over the scanned parameter: toys, Gross–Vitells and the local p.', ...paths('look-elsewhere') }]
    : [];
  const fits = summary.fits;
  const sections: ReportSection[] = [
    {
      heading: 'Toys',
      text: [
        `${summary.toys} toys${fits ? `: ${fits.converged} fits converged, ${fits.withErrors} with Hessian errors, ${fits.withWarnings} with warnings; ${fits.seconds.mean.toFixed(2)} s per toy` : ''}.`,
        ...(summary.q0 ? [`q0: median ${summary.q0.median.toFixed(2)}; ${summary.q0.fractionAbove.map((a) => `P(q0 ≥ ${a.u}) = ${percent(a.fraction)} (½χ²₁: ${(100 * a.chi2Half).toFixed(1)} %)`).join(', ')}`] : []),
      ].join('\n\n'),
      tables: parameterTable(summary),
    },
  ];
  if (pulls.length + coverage.length > 0) sections.push({ heading: 'Pulls and coverage', figures: [...pulls, ...coverage] });
  if (lee.length > 0) sections.push({ heading: 'Look-elsewhere effect', figures: lee });
  const reportPath = join(dir, 'report.html');
  await writeFileAtomic(reportPath, buildReport({ title: 'flowscan toys', subtitle: `${summary.toys} pseudo-experiments, seed ${config.seed}`, sections }));
  return reportPath;
}
