// Preloaded into a measured process (node --import ./test/bench/memory-peaks.mjs …): samples process.memoryUsage()
// every 20 ms and, at exit, writes the peaks of the resident set, the JS heap and the ArrayBuffers (typed arrays'
// memory, outside the JS heap) as JSON to the file named by MEMORY_PEAKS_FILE. /usr/bin/time's peak RSS is exact;
// these sampled peaks say which part of it the JavaScript side holds.
import { writeFileSync } from 'node:fs';

const file = process.env.MEMORY_PEAKS_FILE;
if (!file) throw new Error('memory-peaks.mjs: set MEMORY_PEAKS_FILE to the JSON file to write the peaks to');
const peaks = { rss: 0, heapUsed: 0, arrayBuffers: 0, external: 0 };
function sample() {
  const usage = process.memoryUsage();
  for (const key of Object.keys(peaks)) peaks[key] = Math.max(peaks[key], usage[key]);
}
setInterval(sample, 20).unref();
process.on('exit', () => {
  sample();
  writeFileSync(file, `${JSON.stringify(Object.fromEntries(Object.entries(peaks).map(([k, v]) => [`${k}MiB`, v / 2 ** 20])))}\n`);
});
