// `flowscan toys --report DIR`: report.html with the pull histograms and a coverage figure whose points are the
// toys' own coverage, recounted here from the shard file; per-toy progress lines in a log; expected counts in the
// request become the toys' fractions.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@flowscan/runtime';
import { coverageFigure } from '../runtime/src/plots/coverage.ts';
import * as toy from '../trainer/src/data/toy.ts';
import { REPO_ROOT } from '../trainer/src/study/toy.ts';
import type { ToyResult } from '../trainer/src/toys/toys.ts';
import { flowscan } from './helpers/commands.ts';

let dir = '';
const TOYS = 6;
const TRUTH = { m_pole: 91.2, gamma: 2.5, tau: 0.01 };

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscan-report-toys-'));
  const rng = new Rng(5);
  const x = new Float64Array(600);
  toy.signalSample(rng, TRUTH.m_pole, TRUTH.gamma, x.subarray(0, 60));
  toy.backgroundSample(rng, TRUTH.tau, x.subarray(60));
  await writeFile(join(dir, 'events.csv'), `x\n${Array.from(x).join('\n')}\n`);
  await writeFile(
    join(dir, 'request.json'),
    JSON.stringify({
      events: { file: 'events.csv' },
      components: [
        { name: 'signal', model: join(REPO_ROOT, 'models', 'toy-signal'), events: 60 },
        { name: 'background', model: join(REPO_ROOT, 'models', 'toy-background') },
      ],
      signal: 'signal',
    }),
  );
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('flowscan toys --report: pulls, coverage recounted from the toys, report.html; a line per toy in a log', async (t) => {
  const out = join(dir, 'toys');
  const report = join(dir, 'report');
  const truth = Object.entries(TRUTH).map(([k, v]) => `${k}=${v}`).join(',');
  const run = await flowscan(['toys', '--request', join(dir, 'request.json'), '--toys', String(TOYS), '--truth', truth, '--out', out, '--report', report, '--ep', 'cpu', '--threads', '1']);
  t.is(run.code, 0, run.stderr);
  const html = readFileSync(join(report, 'report.html'), 'utf8');
  for (const name of ['pulls-m_pole', 'pulls-gamma', 'pulls-tau', 'coverage']) {
    t.true(existsSync(join(report, 'figures', `${name}.svg`)) && existsSync(join(report, 'figures', `${name}.png`)), name);
    t.true(html.includes(`<figure id="${name}">`), `${name} in report.html`);
  }
  t.true(existsSync(join(report, 'summary.json')));

  // The toys' fractions come from the counts: 60 of the 600 observed events.
  const shard = JSON.parse(readFileSync(join(out, 'shard-0000-of-0001.json'), 'utf8')) as { config: { request: { components: { fraction?: number }[] } }; items: { result: ToyResult }[] };
  t.deepEqual(shard.config.request.components.map((c) => c.fraction), [0.1, 0.9]);
  t.is(shard.items.length, TOYS);

  // Coverage points: the fraction of toys with |θ̂ − truth| ≤ kσ̂, recounted from the shard file.
  const summary = JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8')) as { summary: { parameters: Record<string, { hessian: { observed: { fraction: number } }[] }> } };
  for (const [name, value] of Object.entries(TRUTH)) {
    for (const k of [1, 2]) {
      const rows = shard.items.map((i) => i.result.fit!.parameters[name]).filter((p) => p.error !== null && p.error > 0);
      const inside = rows.filter((p) => Math.abs(p.value - value) <= k * p.error!).length / rows.length;
      t.is(summary.summary.parameters[name].hessian[k - 1].observed.fraction, inside, `${name} ±${k}σ`);
    }
  }

  // stderr is a pipe: one line per toy with the count, an ETA until the last, and the toy's NLL.
  const lines = run.stderr.split('\n').filter((l) => l.startsWith('toys: '));
  t.is(lines.filter((l) => /^toys: \d\/6 \(\d+%\), /.test(l)).length, TOYS, run.stderr);
  t.regex(lines.find((l) => l.startsWith('toys: 1/6'))!, /ETA .*NLL -?\d+\.\d\d/);
});

test('coverageFigure: a point per parameter and method with its binomial error, clipped to [0, 1], and one line per nominal level', (t) => {
  const spec = coverageFigure({
    points: [
      { group: 'm_pole', method: 'Hessian ±1σ', nominal: 0.6827, observed: 0.7, error: 0.05 },
      { group: 'm_pole', method: 'Hessian ±2σ', nominal: 0.9545, observed: 0.98, error: 0.03 },
      { group: 'tau', method: 'Hessian ±1σ', nominal: 0.6827, observed: 0.6, error: 0.05 },
    ],
  });
  const data = spec.datasets as Record<string, Record<string, number | string>[]>;
  t.deepEqual(data.points.map((p) => [p.group, p.method, p.lo, p.hi]), [
    ['m_pole', 'Hessian ±1σ', 0.7 - 0.05, 0.7 + 0.05],
    ['m_pole', 'Hessian ±2σ', 0.98 - 0.03, 1],
    ['tau', 'Hessian ±1σ', 0.6 - 0.05, 0.6 + 0.05],
  ]);
  t.deepEqual(data.levels.map((l) => l.nominal), [0.6827, 0.9545]);
  t.throws(() => coverageFigure({ points: [{ group: 'a', method: 'b', nominal: 1.5, observed: 0.5, error: 0.1 }] }), { message: /nominal must lie in \(0, 1\), got 1\.5/ });
});
