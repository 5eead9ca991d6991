// `flowscan merge DIR --report R`: the shards of a sharded toys run merged into the same report an unsharded run
// writes (pulls, coverage, report.html), its summary counting every shard's toys; --report with --missing refused.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FlowModel, type ScanRequest, applyEventCounts } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { parseShard } from '../trainer/src/shards/shards.ts';
import { REPO_ROOT } from '../trainer/src/study/toy.ts';
import { runToysShard } from '../trainer/src/toys/run.ts';
import type { ToyResult, ToysConfig } from '../trainer/src/toys/toys.ts';
import { flowscan } from './helpers/commands.ts';
import { flowscanRefusal } from './helpers/in-process.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-report-merge-');
const TRUTH = { m_pole: 91.2, gamma: 2.5, tau: 0.01 };
const SHARDS = 2;
const TOYS = 4;
const EVENTS = 600;

test('flowscan merge --report: the toys of both shards in one report', async (t) => {
  const dir = folder();
  const out = join(dir, 'toys');
  // The shards are run here, with the models loaded once, as `flowscan toys --shard i/2` runs them.
  const request: ScanRequest = applyEventCounts(
    {
      events: { file: 'unused.csv' },
      components: [
        { name: 'signal', model: join(REPO_ROOT, 'models', 'toy-signal'), fraction: 0.1 },
        { name: 'background', model: join(REPO_ROOT, 'models', 'toy-background'), fraction: 0.9 },
      ],
      signal: 'signal',
    },
    EVENTS,
  );
  const models: Record<string, FlowModel> = {};
  for (const c of request.components) models[c.name] = await loadModel(c.model as string, { ep: 'cpu', threads: 1 });
  const config: ToysConfig = {
    request,
    models: Object.fromEntries(Object.entries(models).map(([c, m]) => [c, m.manifest.graphs.log_prob.sha256])),
    truth: TRUTH,
    toys: TOYS,
    seed: 1,
    generation: { from: 'flows', events: EVENTS },
    eventWeights: null,
    profile: false,
    significance: false,
    lookElsewhere: null,
    precision: models.signal.precision,
  };
  try {
    for (let shard = 0; shard < SHARDS; shard++) await runToysShard({ config, models, observed: null, memoryBudget: 2 ** 27 }, parseShard(`${shard}/${SHARDS}`), out);
  } finally {
    for (const m of Object.values(models)) await m.release();
  }
  t.regex(await flowscanRefusal(['merge', out, '--missing', '--report', join(dir, 'never')]), /--report has no use with --missing/);

  const report = join(dir, 'report');
  const merge = await flowscan(['merge', out, '--report', report]);
  t.is(merge.code, 0, merge.stderr);
  t.regex(merge.stdout, new RegExp(`wrote ${join(report, 'report.html').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const html = readFileSync(join(report, 'report.html'), 'utf8');
  for (const name of ['pulls-m_pole', 'pulls-gamma', 'pulls-tau', 'coverage']) {
    t.true(existsSync(join(report, 'figures', `${name}.svg`)) && existsSync(join(report, 'figures', `${name}.png`)), name);
    t.true(html.includes(`<figure id="${name}">`), `${name} in report.html`);
  }
  // The report counts the toys of both shard files, and its coverage is theirs.
  const items = [0, 1].flatMap((s) => (JSON.parse(readFileSync(join(out, `shard-000${s}-of-0002.json`), 'utf8')) as { items: { result: ToyResult }[] }).items);
  t.is(items.length, TOYS);
  t.true(html.includes(`${TOYS} pseudo-experiments`));
  const summary = JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8')) as { summary: { toys: number; parameters: Record<string, { hessian: { observed: { fraction: number } }[] }> } };
  t.is(summary.summary.toys, TOYS);
  const fits = items.map((i) => i.result.fit!.parameters.m_pole).filter((p) => p.error !== null && p.error > 0);
  const inside = fits.filter((p) => Math.abs(p.value - TRUTH.m_pole) <= p.error!).length / fits.length;
  t.is(summary.summary.parameters.m_pole.hessian[0].observed.fraction, inside);
});
