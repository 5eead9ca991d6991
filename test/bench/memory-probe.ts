// A child of `npm run bench`: evaluates the toy mixture (shipped models) with gradients at K = 16 points over 10^6
// events and prints its peak resident memory as JSON. A process of its own, so nothing else counts.
import { join } from 'node:path';
import { DEFAULT_MEMORY_BUDGET, MixtureLikelihood, Rng } from '@flowscan/runtime';
import { type ExecutionProviderChoice, loadModel } from '@flowscan/runtime/node';
import { pseudoData } from '../../trainer/src/data/toy.ts';
import { REPO_ROOT } from '../../trainer/src/study/toy.ts';

const ep = (process.argv[2] ?? 'cpu') as ExecutionProviderChoice;
const signal = await loadModel(join(REPO_ROOT, 'models', 'toy-signal'), { ep });
const background = await loadModel(join(REPO_ROOT, 'models', 'toy-background'), { ep });
const { x } = pseudoData(new Rng(11), { nSignal: 10_000, nBackground: 990_000 });
const fraction = 0.01;
const likelihood = new MixtureLikelihood({
  components: [
    { name: 'signal', model: signal, fraction },
    { name: 'background', model: background, fraction: 1 - fraction },
  ],
  events: { x },
  yields: 'fixed-fractions',
});
const K = 16;
const points = Float64Array.from({ length: 3 * K }, (_, i) => [88 + 0.1 * Math.floor(i / 3), 2.5, 0.01][i % 3]);
const t0 = performance.now();
await likelihood.evaluate(points, K, true);
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(
  `${JSON.stringify({ events: x.length, points: K, maxRssMiB: process.resourceUsage().maxRSS / 1024, seconds, chunk: likelihood.chunkSize(K), budgetMiB: DEFAULT_MEMORY_BUDGET / 2 ** 20 })}\n`,
);
