// A toy run on disk: one shard's toys into an atomic shard file, and the summary (JSON, figures, text) of a
// complete run — written at once by an unsharded run, or by `flowscan merge` when the shards are in.
import { join } from 'node:path';
import { plots } from '@flowscan/runtime';
import { writeFileAtomic } from '@flowscan/runtime/node';
import { writeFigure } from '../report/render.ts';
import type { ShardedKind } from '../shards/kinds.ts';
import { type Shard, type ShardItem, finishedShard, shardFileName, shardItems, writeShard } from '../shards/shards.ts';
import { grossVitells } from './lee.ts';
import { chi2OneDofSurvival, significanceOfPValue } from './statistics.ts';
import { type ToyResult, type ToysConfig, type ToysContext, type ToysSummary, itemCount, runToy, summarizeToys, summaryText } from './toys.ts';

export const TOYS_KIND = 'toys';

/** Runs the shard's toys and writes its file; a shard already finished by the same configuration is kept. */
export async function runToysShard(
  context: ToysContext,
  shard: Shard,
  out: string,
  onToy?: (done: number, total: number, last: ToyResult) => void,
): Promise<{ path: string; items: ShardItem<ToyResult>[]; reused: boolean }> {
  const path = join(out, shardFileName(shard));
  const done = await finishedShard(out, shard, TOYS_KIND, context.config);
  if (done) return { path, items: done.items as ShardItem<ToyResult>[], reused: true };
  const indices = shardItems(itemCount(context.config), shard);
  const items: ShardItem<ToyResult>[] = [];
  for (const index of indices) {
    const result = await runToy(context, index);
    items.push({ index, result });
    onToy?.(items.length, indices.length, result);
  }
  await writeShard(out, { kind: TOYS_KIND, config: context.config, shard, total: itemCount(context.config), items });
  return { path, items, reused: false };
}

/** Standard-normal quantiles at (i + ½)/n: a smooth N(0, 1) reference drawn as a histogram next to the pulls. */
function normalReference(n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = -significanceOfPValue((i + 0.5) / n);
  return out;
}

async function writeFigures(summary: ToysSummary, results: ToyResult[], out: string): Promise<string[]> {
  const dir = join(out, 'figures');
  const written: string[] = [];
  if (summary.parameters) {
    const reference = normalReference(20_000);
    for (const [name, p] of Object.entries(summary.parameters)) {
      const pulls = results.flatMap((r) => {
        const q = r.fit?.parameters[name];
        return q && q.error !== null && q.error > 0 ? [(q.value - p.truth) / q.error] : [];
      });
      if (pulls.length === 0) continue;
      const spec = plots.histogramComparison({
        title: `Pulls of ${name}: mean ${p.pull.mean.toFixed(2)} ± ${p.pull.meanError.toFixed(2)}, width ${p.pull.width.toFixed(2)} ± ${p.pull.widthError.toFixed(2)} (${pulls.length} toys)`,
        xTitle: `(${name} − truth) / σ (Hessian)`,
        range: [-4, 4],
        bins: 24,
        normalize: 'density',
        series: [
          { label: 'toys', values: pulls, style: 'points' },
          { label: 'N(0, 1)', values: reference, style: 'line' },
        ],
      });
      written.push((await writeFigure(dir, `pulls-${name}`, spec)).pngPath);
    }
  }
  const lee = summary.lookElsewhere;
  if (lee) {
    const z = lee.thresholds.map((t) => t.localZ);
    // The analytic curves reach the observed significance, so its global p can be read off the figure.
    const zMax = Math.max(6, (lee.observed?.localZ ?? 0) + 0.5);
    const fine = Array.from({ length: 61 }, (_, k) => 0.5 + (k * (zMax - 0.5)) / 60);
    const spec = plots.pValueCurves({
      title: `Look-elsewhere effect over ${lee.parameter}: ${summary.toys} background-only toys`,
      series: [
        { label: 'toys: P(max q ≥ u)', z, p: lee.thresholds.map((t) => t.toys.fraction), error: lee.thresholds.map((t) => t.toys.error) },
        { label: 'Gross–Vitells', z: fine, p: fine.map((zz) => grossVitells(zz * zz, lee.referenceLevel, lee.meanUpcrossings.value)) },
        { label: 'local ½P(χ²₁ ≥ u)', z: fine, p: fine.map((zz) => 0.5 * chi2OneDofSurvival(zz * zz)) },
      ],
      ...(lee.observed ? { observedZ: lee.observed.localZ } : {}),
    });
    written.push((await writeFigure(dir, 'look-elsewhere', spec)).pngPath);
  }
  return written;
}

export const TOYS_SUMMARY_FORMAT = 'flowscan-toys-summary';

/** Writes summary.json and the figures of a complete run into `out`; returns the summary as text. */
export async function writeToysSummary(config: ToysConfig, results: ToyResult[], out: string): Promise<string> {
  const summary = summarizeToys(config, results);
  const figures = await writeFigures(summary, results.filter((r) => r.kind === 'toy'), out);
  const path = join(out, 'summary.json');
  await writeFileAtomic(path, `${JSON.stringify({ format: TOYS_SUMMARY_FORMAT, config, summary, figures }, null, 2)}\n`);
  return `${summaryText(summary)}\n\nwrote ${path}${figures.length > 0 ? ` and ${figures.length} figures in ${join(out, 'figures')}` : ''}`;
}

export const toysKind: ShardedKind = {
  summarize: (merged, out) => writeToysSummary(merged.config as ToysConfig, merged.items.map((item) => item.result as ToyResult), out),
  // Imported when asked for: the report module imports this one.
  report: async (merged, dir) => (await import('../report/toys.ts')).writeToysReport(dir, merged.config as ToysConfig, merged.items.map((item) => item.result as ToyResult)),
};
