// `flowscan generate --report DIR`: the on-the-fly histograms as stacked figures. The figure's bands must be the
// histograms' running sums (largest component at the bottom), its error bars √Σw² of the total; from the command
// line, a mixture's report without --hist bins the feature over the models' support and holds the summary's counts.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HistogramSet } from '../trainer/src/generate/histograms.ts';
import { generatedHistogramFigure } from '../trainer/src/report/generate.ts';
import { REPO_ROOT } from '../trainer/src/study/toy.ts';
import { flowscan } from './helpers/commands.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-report-generate-');

type Row = Record<string, number | string>;

test('generatedHistogramFigure stacks the components by size and puts √Σw² on the total', (t) => {
  // Given signal first; the background, larger in Σw (6 against 2.5 inside the range), goes at the bottom.
  const set = new HistogramSet([{ column: 'x', lo: 0, hi: 4, bins: 4 }], ['sig', 'bkg']);
  set.fill('bkg', { x: [0.5, 1.5, 1.6] }, 3, 2, null);
  set.fill('sig', { x: [0.5, 0.6, 2.5, 3.5, 3.6, 9] }, 6, 0.5, null);
  const spec = generatedHistogramFigure('x', set.toJSON().x, 'GeV', true);
  const data = spec.datasets as Record<string, Row[]>;
  const band = (series: string) => data.stack.filter((r) => r.series === series && (r.order as number) < 4);
  // bkg: one event × 2 in bin 0, two in bin 1; sig: two × 0.5 in bin 0, one in bin 2, two in bin 3 (one overflows).
  t.deepEqual(band('bkg').map((r) => [r.lower, r.upper]), [[0, 2], [0, 4], [0, 0], [0, 0]]);
  t.deepEqual(band('sig').map((r) => [r.lower, r.upper]), [[2, 3], [4, 4], [0, 0.5], [0, 1]]);
  const total = data.bins.filter((r) => r.series === 'total ± √Σw²');
  t.deepEqual(total.map((r) => r.y), [3, 4, 0.5, 1]);
  const expectedErrors = [Math.sqrt(4 + 2 * 0.25), Math.sqrt(2 * 4), 0.5, Math.sqrt(2 * 0.25)];
  total.forEach((r, b) => t.true(Math.abs((r.yHi as number) - (r.y as number) - expectedErrors[b]) < 1e-12, `bin ${b}`));
  t.regex(JSON.stringify(spec), /Expected events \/ 1 GeV/);
});

test('flowscan generate --report: a mixture binned over the models\u2019 support, with the summary\u2019s counts and the figure\u2019s labels', async (t) => {
  const dir = folder();
  const report = join(dir, 'report');
  const theta = { m_pole: 91.2, gamma: 2.5, tau: 0.01 };
  const run = await flowscan([
    'generate',
    '--model', `sig=${join(REPO_ROOT, 'models', 'toy-signal')}:1000`,
    '--model', `bkg=${join(REPO_ROOT, 'models', 'toy-background')}:10000`,
    '--theta', Object.entries(theta).map(([k, v]) => `${k}=${v}`).join(','),
    '--events', '22000',
    '--report', report,
    '--ep', 'cpu',
  ]);
  t.is(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout.split('\n')[0]) as { components: Record<string, { events: number; accepted: number }> };
  const html = readFileSync(join(report, 'report.html'), 'utf8');
  t.true(existsSync(join(report, 'figures', 'hist-x.svg')) && existsSync(join(report, 'figures', 'hist-x.png')));
  t.true(html.includes('<figure id="hist-x">'));
  for (const [name, c] of Object.entries(summary.components)) t.true(html.includes(`<tr><td>${name}</td><td class="num">${c.events}</td>`), `${name}: ${c.events} events in the table`);
  // The toy models' support is [40, 140] GeV: 50 bins of 2 GeV.
  t.regex(html, /in 50 bins on \[40, 140\]/);
  const svg = readFileSync(join(report, 'figures', 'hist-x.svg'), 'utf8');
  for (const label of ['bkg', 'sig', 'total ± √Σw²', 'x [GeV]', 'Expected events / 2 GeV']) t.true(svg.includes(`>${label}<`), `"${label}" drawn`);
});
