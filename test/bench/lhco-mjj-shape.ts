// Not part of `npm test`: the m_J1J2 shape of LHCO-like signal flows where the study fits it (issue 17). For each
// exported signal flow: the 16 %, 50 % and 84 % quantiles of its m_J1J2 at the benchmark (3500, 500, 100) GeV minus
// the simulator's (n events each; a median's error is ≈ 0.5 GeV at 200k), and the study's interpolation check at
// the untrained m_Z′ = 4000 GeV (KS of m_J1J2, mean and max over the (m_X, m_Y) pairs, 10k events each; median shifts
// at 4000 and at the trained 3500). A flow whose m_J1J2 sits low or is narrow on the high side at the benchmark
// moves the fitted m_Z′ (test/bench/lhco-signal-only.ts).
//   nice -n 10 npx tsx --conditions=flowscan-source test/bench/lhco-mjj-shape.ts [--events 200000] out/lhco/models/lhco-signal …
import { parseArgs } from 'node:util';
import { Rng, sortedQuantile } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { LHCO_BENCHMARK_POINT } from '../../trainer/src/data/lhco.ts';
import { LHCO_INTERPOLATION_M_ZPRIME, LHCO_STUDY_TRUTH, flowEvents, simulateSelectedSignal } from '../../trainer/src/study/lhco-data.ts';
import { interpolationCheck } from '../../trainer/src/study/lhco-interpolation.ts';

const { values, positionals: folders } = parseArgs({ allowPositionals: true, options: { events: { type: 'string', default: '200000' } } });
const n = Number(values.events);
if (!(Number.isInteger(n) && n >= 1000)) throw new Error(`--events takes an integer ≥ 1000, got ${values.events}`);
if (folders.length === 0) throw new Error('give one or more exported LHCO signal flow folders, e.g. out/lhco/models/lhco-signal');

const QUANTILES = [0.16, 0.5, 0.84];
const simulated = Float64Array.from(simulateSelectedSignal(new Rng(99).fork(5), n, LHCO_BENCHMARK_POINT).mjj).sort();
console.log(`m_J1J2 at ${Object.values(LHCO_STUDY_TRUTH).join(', ')} GeV, ${n} events: simulator quantiles ${QUANTILES.map((q) => `${100 * q} % ${sortedQuantile(simulated, q).toFixed(1)}`).join(', ')} GeV`);
for (const folder of folders) {
  const model = await loadModel(folder, { ep: 'cpu', precision: 'float32' });
  const sampled = Float64Array.from((await flowEvents(model, [LHCO_STUDY_TRUTH.m_zprime, LHCO_STUDY_TRUTH.m_x, LHCO_STUDY_TRUTH.m_y], n, new Rng(7))).mjj).sort();
  const shifts = QUANTILES.map((q) => sortedQuantile(sampled, q) - sortedQuantile(simulated, q));
  const check = await interpolationCheck(model, LHCO_INTERPOLATION_M_ZPRIME, LHCO_STUDY_TRUTH.m_zprime, 10_000, new Rng(3));
  console.log(
    `${folder.padEnd(40)} flow − simulator quantiles ${shifts.map((s) => `${s >= 0 ? '+' : ''}${s.toFixed(1)}`).join(' / ')} GeV; ` +
      `KS m_J1J2 at ${LHCO_INTERPOLATION_M_ZPRIME}: mean ${check.excluded.mjj.mean.toFixed(4)}, max ${check.excluded.mjj.max.toFixed(4)}; ` +
      `median shift ${check.mjjMedianShift.excluded.toFixed(1)} GeV there, ${check.mjjMedianShift.trained.toFixed(1)} GeV at ${LHCO_STUDY_TRUTH.m_zprime}`,
  );
}
