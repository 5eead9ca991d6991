// `flowscan hist fit|limit|significance --report DIR`: the files, and the figures' numbers against analytic results.
// In 1bin_shapesys (n = 55 observed, signal 10μ, background 50γ with a shapesys constraint Pois(τ | τγ),
// τ = (50/7)²) the data bin fixes only 10μ + 50γ, so the best fit is γ̂ = 1 (the constraint's maximum) and
// μ̂ = (55 − 50)/10 = 0.5: the fitted stack is 5 + 50 = 55 events, the pull of γ is 0, and since μ absorbs any change of
// γ, γ's error is the constraint's own, 1/√τ (a constraint of 1).
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { histfactory as hf, plots } from '@flowscan/runtime';
import { formatNumber } from '../trainer/src/report/html.ts';
import { channelFigures, nuisancePulls, pullsFigure } from '../trainer/src/report/hist.ts';
import { flowscan } from './helpers/commands.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'histfactory');
const folder = temporaryFolder('flowscan-report-hist-');

function loadModel(name: string): hf.HistFactoryModel {
  return new hf.HistFactoryModel(hf.parseWorkspace(JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'))));
}

type Row = Record<string, number | string>;

test('the channel figure stacks the fitted samples on the observed counts: 5 signal + 50 background = 55 observed', async (t) => {
  const model = loadModel('1bin_shapesys.json');
  const data = model.observedData();
  const fit = await hf.fit(model, data, { errors: true });
  const [figure] = channelFigures(model, fit.parameters, data, 'fit');
  t.is(figure.channel, 'singlechannel');
  const datasets = figure.spec.datasets as Record<string, Row[]>;
  // Samples are stacked in the model's (sorted) order: background at the bottom, signal on top of it.
  const band = (series: string) => datasets.stack.find((r) => r.series === series)!;
  t.is(band('background').lower, 0);
  t.true(Math.abs((band('background').upper as number) - 50) < 1e-4, `background ${band('background').upper}`);
  t.is(band('signal').lower, band('background').upper);
  t.true(Math.abs((band('signal').upper as number) - 55) < 1e-4, `stack top ${band('signal').upper}`);
  const observed = datasets.bins.find((r) => r.series === 'observed')!;
  t.like(observed, { y: 55, yHi: 55 + Math.sqrt(55), yLo: 55 - Math.sqrt(55) });
  t.true(Math.abs((datasets.bins.find((r) => r.series === 'fit: total')!.y as number) - 55) < 1e-4);

  // The pull of γ is 0 and its constraint 1 (σ̂ = 1/√τ, from the finite-difference Hessian).
  const pulls = nuisancePulls(model, fit);
  t.deepEqual(pulls.map((p) => p.name), ['uncorr_bkguncrt[0]']);
  const tau = (50 / 7) ** 2;
  t.true(Math.abs(pulls[0].prefitError - 1 / Math.sqrt(tau)) < 1e-12);
  t.true(Math.abs(pulls[0].pull) < 1e-3, `pull ${pulls[0].pull}`);
  t.true(Math.abs(pulls[0].constraint! - 1) < 1e-3, `constraint ${pulls[0].constraint}`);
  const rows = pullsFigure(pulls, 'pulls').datasets.pulls;
  t.deepEqual(rows.map((r) => r.parameter), ['uncorr_bkguncrt[0]']);
  t.true(Math.abs((rows[0].hi as number) - (rows[0].lo as number) - 2 * pulls[0].constraint!) < 1e-12);
});

test('pulls: a normsys α against N(0, 1) is α̂ itself; a shapesys γ_b against Pois(τ_b | τ_b γ_b) is (γ̂_b − 1)·B_b/δ_b', async (t) => {
  const normsys = loadModel('2bin_2channel_couplednorm.json');
  const normsysFit = await hf.fit(normsys, normsys.observedData(), { errors: true });
  const alpha = normsysFit.parameters[normsys.parameterNames.indexOf('coupled_normsys')];
  t.deepEqual(nuisancePulls(normsys, normsysFit).map((p) => [p.name, p.pull]), [['coupled_normsys', alpha]]);

  // 2bin_2channel: background B = [100, 150] ± [10, 10] in "signal", [200, 350] ± [5, 10] in "control"; Δγ = δ/B.
  const shapesys = loadModel('2bin_2channel.json');
  const fit = await hf.fit(shapesys, shapesys.observedData(), { errors: true });
  const relative: Record<string, number[]> = { uncorr_bkguncrt_signal: [10 / 100, 10 / 150], uncorr_bkguncrt_control: [5 / 200, 10 / 350] };
  const pulls = nuisancePulls(shapesys, fit);
  t.is(pulls.length, 4);
  for (const [name, deltas] of Object.entries(relative)) {
    deltas.forEach((delta, b) => {
      const p = pulls.find((q) => q.name === `${name}[${b}]`)!;
      const gamma = fit.parameters[shapesys.parameterNames.indexOf(p.name)];
      t.true(Math.abs(p.prefitError - delta) < 1e-12, `${p.name}: Δγ ${p.prefitError}, expected ${delta}`);
      t.true(Math.abs(p.pull - (gamma - 1) / delta) < 1e-9, `${p.name}: pull ${p.pull}`);
      t.true(Math.abs(p.constraint! - fit.errors![shapesys.parameterNames.indexOf(p.name)] / delta) < 1e-9, `${p.name}: constraint`);
    });
  }
  t.false(pulls.some((p) => p.name === shapesys.poi), 'the POI (a normfactor) has no pull');
});

test('flowscan hist limit|fit|significance --report: figures, tables with the library\u2019s numbers, report.html', async (t) => {
  const dir = folder();
  const workspace = join(FIXTURES, '1bin_shapesys.json');
  const limit = await flowscan(['hist', 'limit', workspace, '--report', join(dir, 'limit')]);
  t.is(limit.code, 0, limit.stderr);
  const model = loadModel('1bin_shapesys.json');
  const limits = await hf.upperLimit(model, model.observedData());
  const html = readFileSync(join(dir, 'limit', 'report.html'), 'utf8');
  t.true(html.includes(`<td class="num">${formatNumber(limits.observed!)}</td>`), 'observed limit in the table');
  for (const name of ['cls', 'channel-singlechannel', 'pulls']) {
    t.true(existsSync(join(dir, 'limit', 'figures', `${name}.svg`)) && existsSync(join(dir, 'limit', 'figures', `${name}.png`)), name);
    t.true(html.includes(`<figure id="${name}">`), `${name} in report.html`);
  }
  const channel = readFileSync(join(dir, 'limit', 'figures', 'channel-singlechannel.svg'), 'utf8');
  for (const label of ['background', 'signal', 'fit: total', 'observed', 'Events per bin']) t.true(channel.includes(`>${label}<`), `"${label}" drawn`);

  const fit = await flowscan(['hist', 'fit', join(FIXTURES, '2bin_2channel.json'), '--report', join(dir, 'fit')]);
  t.is(fit.code, 0, fit.stderr);
  for (const channelName of ['control', 'signal']) t.true(existsSync(join(dir, 'fit', 'figures', `channel-${channelName}.png`)), channelName);

  const significance = await flowscan(['hist', 'significance', join(FIXTURES, '1bin_shapesys_q0.json'), '--report', join(dir, 'significance')]);
  t.is(significance.code, 0, significance.stderr);
  const q0 = readFileSync(join(dir, 'significance', 'report.html'), 'utf8');
  const discovery = loadModel('1bin_shapesys_q0.json');
  const p0 = (await hf.hypotest(discovery, discovery.observedData(), 0, { testStatistic: 'q0' })).pValue;
  t.true(q0.includes(`<td class="num">${formatNumber(p0)}</td>`), `observed p0 ${p0} in the table`);
});

test('stackedHistogram names the argument at fault', (t) => {
  const stack = [{ label: 'b', counts: [1, 2] }];
  t.throws(() => plots.stackedHistogram({ xTitle: 'bin', edges: [0, 1, 1], stack }), { message: /edges must be finite and increasing, but edges\[2\] = 1 follows 1/ });
  t.throws(() => plots.stackedHistogram({ xTitle: 'bin', edges: [0, 1, 2], stack: [{ label: 'b', counts: [1] }] }), { message: /stack\[0\] \("b"\)\.counts has 1 entries for 2 bins/ });
  t.throws(() => plots.stackedHistogram({ xTitle: 'bin', edges: [0, 1, 2], stack, data: { counts: [1, -3] } }), { message: /data\.counts\[1\] = -3; counts must be finite and ≥ 0/ });
  t.throws(() => plots.stackedHistogram({ xTitle: 'bin', edges: [0, 1, 2], stack, totalLabel: 'b' }), { message: /"b" appears twice/ });
  // Equal bins give "Events / <width> <unit>"; a log axis when the bins span more than two decades, floored below them.
  const spec = plots.stackedHistogram({ xTitle: 'm [GeV]', edges: [0, 5, 10], stack: [{ label: 'b', counts: [1000, 2] }] });
  t.regex(JSON.stringify(spec), /Events \/ 5 GeV/);
  const rows = spec.datasets.stack.filter((r) => r.series === 'b');
  t.deepEqual(rows.map((r) => r.lower), [2 / 3, 2 / 3, 2 / 3]);
});
