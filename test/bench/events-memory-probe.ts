// A process of its own (so nothing else counts in its peak): the data path of `flowscan scan` on one event file —
// the request's models loaded, the file's columns read as the CLI reads them (readColumns), the request's mixture
// likelihood built, and one evaluation with gradients at the request's start (which makes the events resident and
// fills onnxruntime's arenas to the memory budget). Prints the peak resident set, the time and, run with
// --expose-gc, the ArrayBuffers (typed arrays: the columns, the likelihood's resident events) and the JS heap
// (JavaScript arrays) still held after a collection: steadier than peak RSS, which depends on when the allocator
// returns freed blocks. A full scan repeats such evaluations (K points per call, chunks bounded by the same
// budget) without holding more per event.
//   node --expose-gc --import tsx --conditions=flowscan-source test/bench/events-memory-probe.ts REQUEST.json
import { resolve, dirname } from 'node:path';
import { readFile } from 'node:fs/promises';
import { allFlows, loadComponentModels, requestLikelihood, validateScanRequest } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { readColumns } from '../../trainer/src/cli/train.ts';

const requestPath = resolve(process.argv[2] ?? '');
const request = validateScanRequest(JSON.parse(await readFile(requestPath, 'utf8')), requestPath);
const base = dirname(requestPath);
const t0 = performance.now();
const models = await loadComponentModels(request, (folder) => loadModel(resolve(base, folder), { ep: 'cpu' }));
const columns = [...new Set(allFlows(models).flatMap((m) => m.featureNames))];
const events = await readColumns([resolve(base, request.events.file)], columns, false, undefined, request.events);
const readSeconds = (performance.now() - t0) / 1000;
const likelihood = requestLikelihood(request, models, events);
const start = Float64Array.from(likelihood.freeNames, (name) => request.start?.[name] ?? NaN);
if (start.some(Number.isNaN)) throw new Error(`${requestPath}: the probe evaluates at the request's start, which must name every free parameter (${likelihood.freeNames.join(', ')})`);
const { values } = await likelihood.evaluate(start, 1, true);
const seconds = (performance.now() - t0) / 1000;
let liveMiB: number | null = null;
let heapMiB: number | null = null;
if (globalThis.gc) {
  // V8 frees ArrayBuffer backing stores after the collection, on a task of its own: collect, let it run, repeat.
  for (let round = 0; round < 3; round++) {
    globalThis.gc();
    await new Promise((done) => setTimeout(done, 50));
  }
  const usage = process.memoryUsage();
  liveMiB = usage.arrayBuffers / 2 ** 20;
  // JavaScript arrays (a number[] of row indices, an Array.from copy) live on the heap, not in ArrayBuffers.
  heapMiB = usage.heapUsed / 2 ** 20;
}
// The likelihood (and with it the resident events) must still be alive at the collection above.
process.stdout.write(`${JSON.stringify({ rows: likelihood.data.events, maxRssMiB: process.resourceUsage().maxRSS / 1024, liveMiB, heapMiB, readSeconds, seconds, nll: values[0] })}\n`);
