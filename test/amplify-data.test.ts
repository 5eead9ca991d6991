// The amplification study's real-data inputs (trainer/src/study/amplify-data.ts) on the shared LHCO R&D files:
// the columns mapped as docs/lhco-simulator.md §1 says, the labelled QCD events dealt without overlap into the MC,
// the classifier's background and the reference, the signal into the classifier's and the template's, all inside
// the signal-region window; and the simulated inputs reproducible from the seed.
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@flowscan/runtime';
import { readNpyFile } from '@flowscan/runtime/node';
import { REAL_WINDOW, realInputs, simulatedInputs } from '../trainer/src/study/amplify-data.ts';

const DATA = join(import.meta.dirname, '..', '..', 'shared', 'data', 'lhco-sr');
const sizes = { mcEvents: 10_000, referenceEvents: 0, signalEvents: 0, classifierEvents: 20_000 };

(existsSync(DATA) ? test : test.skip)('real inputs: every labelled event once, in the simulator\'s columns and the window', async (t) => {
  const inputs = await realInputs(DATA, sizes, new Rng(4));
  const raw = await Promise.all(['innerdata_train.npy', 'innerdata_val.npy', 'innerdata_extrasig_train.npy'].map((f) => readNpyFile(join(DATA, f))));
  const rows = raw.flatMap((a) => Array.from({ length: a.shape[0] }, (_, i) => Array.from(a.data.subarray(6 * i, 6 * i + 6))));
  const background = rows.filter((r) => r[5] === 0);
  const signal = rows.filter((r) => r[5] === 1);
  const reference = [...inputs.referenceBlocks(50_000)];
  t.is(inputs.mc.mjj.length, 10_000);
  t.is(inputs.classifierBackground.mjj.length, 20_000);
  t.is(inputs.referenceEvents, background.length - 30_000);
  t.is(reference.reduce((n, b) => n + b.mjj.length, 0), inputs.referenceEvents);
  t.is(inputs.classifierSignal.mjj.length + inputs.signal.mjj.length, signal.length);
  // The mapping: m_JJ = 1000 m_jj, m_J1 = 1000 (m_J,min + Δm_J), Δm_J in GeV, τ21(J1) = the heavier jet's (column 4).
  const key = (mjj: number, dmj: number) => `${Math.round(mjj * 1e6)}:${Math.round(dmj * 1e6)}`;
  const byKey = new Map(background.map((r) => [key(1000 * r[0], 1000 * r[2]), r]));
  const seen = new Set<string>();
  for (const part of [inputs.mc, inputs.classifierBackground, ...reference]) {
    for (let i = 0; i < part.mjj.length; i++) {
      const k = key(part.mjj[i], part.dmj[i]);
      const r = byKey.get(k);
      if (!r) return t.fail(`background event ${k} is not in the files`);
      t.false(seen.has(k), `event ${k} dealt twice`);
      seen.add(k);
      if (Math.abs(part.mj1[i] - 1000 * (r[1] + r[2])) > 1e-6 || part.tau21j1[i] !== r[4] || part.tau21j2[i] !== r[3]) return t.fail(`event ${k} mapped wrongly`);
      if (!(part.mjj[i] >= REAL_WINDOW[0] && part.mjj[i] <= REAL_WINDOW[1])) return t.fail(`m_JJ ${part.mjj[i]} outside the window`);
    }
  }
  t.is(seen.size, background.length);
  await t.throwsAsync(realInputs(DATA, { ...sizes, mcEvents: 60_000 }, new Rng(4)), { message: /must leave at least half for the reference/ });
});

test('simulated inputs: the seed fixes every sample, the reference comes in blocks of the asked size', (t) => {
  const small = { mcEvents: 50, referenceEvents: 120, signalEvents: 30, classifierEvents: 40 };
  const a = simulatedInputs(small, new Rng(9));
  const b = simulatedInputs(small, new Rng(9));
  t.deepEqual(a.mc, b.mc);
  t.deepEqual(a.signal, b.signal);
  t.deepEqual([...a.referenceBlocks(50)].map((x) => x.mjj.length), [50, 50, 20]);
  t.true(a.signal.mjj.every((m) => m >= a.window[0] && m < a.window[1]));
});
