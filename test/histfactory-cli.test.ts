// `flowscan hist`: limit (root finding and scan, JSON and Brazil-band SVG), significance and fit on fixture
// workspaces, compared with the library's own numbers; a broken workspace fails naming the problem.
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { histfactory as hf } from '@flowscan/runtime';
import { flowscan } from './helpers/commands.ts';
import { flowscanRefusal } from './helpers/in-process.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'histfactory');
const folder = temporaryFolder('flowscan-hist-');

test('hist limit and significance print and write what the library computes; --plot writes the Brazil band', async (t) => {
  const dir = folder();
  const workspace = join(FIXTURES, '1bin_shapesys.json');
  const limit = await flowscan(['hist', 'limit', workspace, '--json', join(dir, 'limit.json'), '--scan', '0:5:11', '--plot', dir]);
  t.is(limit.code, 0, limit.stderr);
  const written = JSON.parse(await readFile(join(dir, 'limit.json'), 'utf8')) as { observed: number | null; expected: (number | null)[] };
  const model = new hf.HistFactoryModel(hf.parseWorkspace(JSON.parse(await readFile(workspace, 'utf8'))));
  const ours = hf.limitsFromScan(await hf.clsScan(model, model.observedData(), Array.from({ length: 11 }, (_, i) => i / 2)));
  t.is(written.observed, ours.observed);
  t.deepEqual(written.expected, ours.expected);
  t.regex(limit.stdout, /observed\s+2\.41\d+/);
  t.regex(await readFile(join(dir, 'cls-brazil.svg'), 'utf8'), /^<svg/);
  const significance = await flowscan(['hist', 'significance', join(FIXTURES, '1bin_shapesys_q0.json')]);
  t.is(significance.code, 0, significance.stderr);
  t.regex(significance.stdout, /observed\s+0\.00393688\s+2\.657/);
  const fit = await flowscan(['hist', 'fit', join(FIXTURES, '2bin_2channel.json')]);
  t.is(fit.code, 0, fit.stderr);
  t.regex(fit.stdout, /uncorr_bkguncrt_signal\[1\]/);
});

test('hist fails with the channel and sample at fault for an inconsistent workspace', async (t) => {
  const dir = folder();
  const ws = JSON.parse(await readFile(join(FIXTURES, '1bin_shapesys.json'), 'utf8')) as { channels: { samples: { data: number[] }[] }[] };
  ws.channels[0].samples[1].data = [50, 3];
  await writeFile(join(dir, 'bad.json'), JSON.stringify(ws));
  // In this process: a flowscan process would spend more CPU starting than refusing.
  t.regex(await flowscanRefusal(['hist', 'fit', join(dir, 'bad.json')]), /channel 'singlechannel' → sample 'background': data has 2 bins, expected 1/);
});
