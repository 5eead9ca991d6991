// Not part of `npm test`: is each LHCO-like mass scale-free in the simulator? Before a flow models a feature in
// units of the parameter it peaks at (`--scale-by`, docs/your-own-model.md), the ratio's distribution should not move
// with θ. Prints the quartiles of m_J1/m_X, m_J2/m_Y and m_J1J2/m_Z′ for selected signal events (inside the study's
// m_JJ window) along each grid axis through the benchmark (3500, 500, 100) GeV, the other two masses held there.
//   npx tsx --conditions=flowscan-source test/bench/lhco-mass-ratios.ts [--events 200000] [--seed 5]
import { parseArgs } from 'node:util';
import { Rng } from '@flowscan/runtime';
import { LHCO_BENCHMARK_POINT, LHCO_MIN_MASS_SPLITTING, LHCO_M_X_VALUES, LHCO_M_Y_VALUES, LHCO_M_ZPRIME_VALUES, type LhcoPoint } from '../../trainer/src/data/lhco.ts';
import { pointLabel, simulateSelectedSignal, withLighterJetMass } from '../../trainer/src/study/lhco-data.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '200000' }, seed: { type: 'string', default: '5' } } });
const n = Number(values.events);
const seed = Number(values.seed);
if (!(Number.isInteger(n) && n >= 4) || !Number.isInteger(seed)) throw new Error(`--events takes an integer ≥ 4 and --seed an integer, got ${values.events} and ${values.seed}`);

const quartiles = (ratio: Float64Array): string => {
  const sorted = Float64Array.from(ratio).sort();
  return [0.25, 0.5, 0.75].map((q) => sorted[Math.floor(q * (sorted.length - 1))].toFixed(4)).join(' / ');
};
const axes: { name: string; points: LhcoPoint[] }[] = [
  { name: 'm_Z′', points: LHCO_M_ZPRIME_VALUES.map((mZprime) => ({ ...LHCO_BENCHMARK_POINT, mZprime })) },
  { name: 'm_X', points: LHCO_M_X_VALUES.map((mX) => ({ ...LHCO_BENCHMARK_POINT, mX })) },
  { name: 'm_Y', points: LHCO_M_Y_VALUES.map((mY) => ({ ...LHCO_BENCHMARK_POINT, mY })) },
];
console.log(`${n} selected signal events per point, seed ${seed}; quartiles (25 / 50 / 75 %) of each mass over its parameter`);
console.log(`${'point (m_Z′, m_X, m_Y)'.padEnd(24)}${'m_J1 / m_X'.padEnd(27)}${'m_J2 / m_Y'.padEnd(27)}m_J1J2 / m_Z′`);
const rng = new Rng(seed);
for (const axis of axes) {
  console.log(`along ${axis.name}:`);
  for (const point of axis.points.filter((p) => p.mX - p.mY > LHCO_MIN_MASS_SPLITTING)) {
    const events = withLighterJetMass(simulateSelectedSignal(rng.fork(point.mZprime * 1e6 + point.mX * 1e3 + point.mY), n, point));
    const ratios = [
      Float64Array.from(events.mj1, (m) => m / point.mX),
      Float64Array.from(events.mj2, (m) => m / point.mY),
      Float64Array.from(events.mjj, (m) => m / point.mZprime),
    ];
    console.log(`  ${pointLabel(point).padEnd(22)}${ratios.map((r) => quartiles(r).padEnd(27)).join('')}`);
  }
}
