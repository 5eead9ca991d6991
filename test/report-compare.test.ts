// `flowscan compare --report DIR`: the ratio figures and report.html with the statistics of compare.json.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@flowscan/runtime';
import { formatNumber } from '../trainer/src/report/html.ts';
import { flowscan } from './helpers/commands.ts';

let dir = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscan-report-compare-'));
  const rng = new Rng(9);
  const sample = (shift: number) => `x,y\n${Array.from({ length: 2000 }, () => `${rng.normal() + shift},${rng.normal()}`).join('\n')}\n`;
  await writeFile(join(dir, 'gen.csv'), sample(0.1));
  await writeFile(join(dir, 'ref.csv'), sample(0));
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('flowscan compare --report: ratio figures and the statistics of compare.json in report.html', async (t) => {
  const report = join(dir, 'report');
  const run = await flowscan(['compare', join(dir, 'gen.csv'), join(dir, 'ref.csv'), '--features', 'x,y', '--bins', 'x=-4:4:40', '--out', join(dir, 'out'), '--report', report]);
  t.is(run.code, 0, run.stderr);
  const html = readFileSync(join(report, 'report.html'), 'utf8');
  const json = JSON.parse(readFileSync(join(dir, 'out', 'compare.json'), 'utf8')) as { features: { feature: string; ks: { statistic: number }; chi2: { chi2: number } }[] };
  for (const f of json.features) {
    t.true(existsSync(join(report, 'figures', `ratio-${f.feature}.svg`)) && existsSync(join(report, 'figures', `ratio-${f.feature}.png`)), f.feature);
    t.true(html.includes(`<figure id="ratio-${f.feature}">`));
    t.true(html.includes(`<td class="num">${formatNumber(f.ks.statistic)}</td>`), `KS D of ${f.feature}`);
    t.true(html.includes(`<td class="num">${formatNumber(f.chi2.chi2)}</td>`), `χ² of ${f.feature}`);
  }
  t.regex(run.stdout, /wrote .*report\.html/);
});
