import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../runtime/src/random.ts';
import { ksOneSample } from '../runtime/src/stats/ks.ts';
import { median } from '../runtime/src/stats/median.ts';
import { LHCO_SR_DATA_DIR, calibrateLhco } from '../trainer/src/data/calibrate.ts';
import {
  LHCO_BACKGROUND_MJJ_RANGE,
  LHCO_FEATURES,
  LHCO_GRID,
  LHCO_MODEL,
  lhcoPseudoData,
  simulateLhcoBackground,
  simulateLhcoSignal,
  simulateLhcoSignalTraining,
} from '../trainer/src/data/lhco.ts';

const mean = (x: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
};
const count = (x: ArrayLike<number>, lo: number, hi: number): number => {
  let k = 0;
  for (let i = 0; i < x.length; i++) if (x[i] >= lo && x[i] < hi) k++;
  return k;
};

test('the grid: 80 points, exactly those of the product with m_X − m_Y > 100', (t) => {
  t.is(LHCO_GRID.length, 80);
  const expected: string[] = [];
  for (const z of [3000, 3500, 4000, 4500]) for (const x of [250, 500, 750, 1000]) for (let y = 50; y <= 300; y += 50) if (x - y > 100) expected.push(`${z},${x},${y}`);
  t.deepEqual(LHCO_GRID.map((p) => `${p.mZprime},${p.mX},${p.mY}`).sort(), expected.sort());
  t.true(LHCO_GRID.every((p) => p.mX - p.mY > 100));
  t.false(LHCO_GRID.some((p) => p.mX === 250 && p.mY === 150)); // 250 − 150 = 100 is not > 100
});

test('signal: jets ordered by mass (dmj ≥ 0), finite, τ21 in (0, 1), same seed same events', (t) => {
  for (const point of [LHCO_GRID[0], { mZprime: 3500, mX: 500, mY: 100 }, LHCO_GRID[79]]) {
    const e = simulateLhcoSignal(new Rng(1), 20_000, point);
    for (const f of LHCO_FEATURES) t.true(e[f].every(Number.isFinite), f);
    t.true(e.dmj.every((d) => d >= 0));
    t.true(e.mj1.every((m, i) => m - e.dmj[i] > 0));
    t.true(e.tau21j1.every((v) => v > 0 && v < 1) && e.tau21j2.every((v) => v > 0 && v < 1));
    t.deepEqual(simulateLhcoSignal(new Rng(1), 100, point).mjj, e.mjj.subarray(0, 100).slice());
  }
  t.throws(() => simulateLhcoSignal(new Rng(1), 10, { mZprime: 500, mX: 400, mY: 200 }), { message: /m_X \+ m_Y < m_Z′/ });
  t.throws(() => simulateLhcoSignal(new Rng(1), -5, LHCO_GRID[0]), { message: /got -5/ });
});

test('signal peaks: m_JJ near m_Z′, m_J1 near m_X, m_J2 near m_Y, and a small Y peak in m_J1', (t) => {
  for (const point of [{ mZprime: 3000, mX: 500, mY: 100 }, { mZprime: 4500, mX: 750, mY: 300 }, { mZprime: 3500, mX: 500, mY: 100 }]) {
    const e = simulateLhcoSignal(new Rng(2), 30_000, point);
    const m = point.mZprime;
    // The mode of m_JJ (densest 2%-wide bin) is within 4% of m_Z′ and below-peak tails never exceed it.
    let best = 0;
    let mode = 0;
    for (let c = 0.8 * m; c < 1.2 * m; c += 0.01 * m) {
      const k = count(e.mjj, c - 0.01 * m, c + 0.01 * m);
      if (k > best) [best, mode] = [k, c];
    }
    t.true(Math.abs(mode / m - 1) < 0.04, `mode m_JJ ${mode} for m_Z′ ${m}`);
    t.true(Math.abs(median(e.mjj) / m - 1) < 0.04);
    t.true(Math.abs(median(e.mj1) / point.mX - 1) < 0.05, `median m_J1 ${median(e.mj1)} vs m_X ${point.mX}`);
    const mj2 = e.mj1.map((v, i) => v - e.dmj[i]);
    t.true(Math.abs(median(mj2) / point.mY - 1) < 0.2, `median m_J2 ${median(mj2)} vs m_Y ${point.mY}`);
  }
  // When the X jet loses a prong, the Y jet becomes J1: a bump at m_Y in m_J1, more than in the next window up.
  const e = simulateLhcoSignal(new Rng(3), 50_000, { mZprime: 3500, mX: 500, mY: 100 });
  const bump = count(e.mj1, 85, 125) / 50_000;
  const above = count(e.mj1, 135, 175) / 50_000;
  t.true(bump > 0.005 && bump < 0.06, `Y peak in m_J1: ${bump}`);
  t.true(bump > 1.3 * above, `bump ${bump} vs next window ${above}`);
});

test('τ21 of two-prong signal jets is lower than QCD’s', (t) => {
  const s = simulateLhcoSignal(new Rng(4), 20_000, { mZprime: 3500, mX: 500, mY: 100 });
  const b = simulateLhcoBackground(new Rng(5), 20_000, { mjjRange: [3300, 3700] });
  t.true(mean(s.tau21j1) < mean(b.tau21j1) - 0.15, `${mean(s.tau21j1)} vs ${mean(b.tau21j1)}`);
  t.true(mean(s.tau21j2) < mean(b.tau21j2) - 0.1, `${mean(s.tau21j2)} vs ${mean(b.tau21j2)}`);
});

test('background: m_JJ follows the dijet function exactly (KS vs quadrature), jet masses grow with m_JJ', (t) => {
  const [lo, hi] = LHCO_BACKGROUND_MJJ_RANGE;
  const b = simulateLhcoBackground(new Rng(6), 40_000);
  t.true(b.mjj.every((m) => m >= lo && m <= hi));
  t.true(b.dmj.every((d) => d >= 0));
  const { dijetP1, dijetP2 } = LHCO_MODEL.background;
  const f = (m: number) => (1 - m / 13000) ** dijetP1 / (m / 13000) ** dijetP2;
  // Oracle CDF: trapezoid-integrated table of the density (1 GeV steps), linear in between.
  const table = new Float64Array(hi - lo + 1);
  for (let i = 1; i < table.length; i++) table[i] = table[i - 1] + 0.5 * (f(lo + i - 1) + f(lo + i));
  const cdf = (m: number) => {
    const u = Math.min(hi - lo, Math.max(0, m - lo));
    const i = Math.min(table.length - 2, Math.floor(u));
    return (table[i] + (u - i) * (table[i + 1] - table[i])) / table[table.length - 1];
  };
  t.true(ksOneSample(b.mjj, cdf).pValue > 1e-3);
  // Jet masses scale with pT ∝ m_JJ: the median ratio between high and low m_JJ follows the m_JJ ratio.
  const low = [...b.mjj.keys()].filter((i) => b.mjj[i] < 2700);
  const high = [...b.mjj.keys()].filter((i) => b.mjj[i] > 4000);
  const massRatio = median(high.map((i) => b.mj1[i])) / median(low.map((i) => b.mj1[i]));
  const mjjRatio = median(high.map((i) => b.mjj[i])) / median(low.map((i) => b.mjj[i]));
  t.true(Math.abs(massRatio / mjjRatio - 1) < 0.1, `mass ratio ${massRatio}, m_JJ ratio ${mjjRatio}`);
  t.throws(() => simulateLhcoBackground(new Rng(1), 10, { mjjRange: [3000, 2000] }), { message: /\[3000, 2000\]/ });
});

test('training set: 80 points × n with θ columns; excluding m_Z′ drops those points and leaves the others unchanged', (t) => {
  const all = simulateLhcoSignalTraining(new Rng(7), 50);
  t.is(all.mjj.length, 80 * 50);
  const points = new Set<string>();
  for (let i = 0; i < all.mjj.length; i++) points.add(`${all.m_zprime[i]},${all.m_x[i]},${all.m_y[i]}`);
  t.is(points.size, 80);
  const some = simulateLhcoSignalTraining(new Rng(7), 50, { excludeMZprime: [3500, 4000] });
  t.is(some.mjj.length, 40 * 50);
  t.false(some.m_zprime.some((m) => m === 3500 || m === 4000));
  // Same seed: the (3000, 250, 50) events are identical with or without the exclusion.
  t.deepEqual(some.mjj.subarray(0, 50), all.mjj.subarray(0, 50));
  t.throws(() => simulateLhcoSignalTraining(new Rng(7), 5, { excludeMZprime: [3200] }), { message: /3200.*3000, 3500, 4000, 4500/ });
  t.throws(() => simulateLhcoSignalTraining(new Rng(7), 5, { excludeMZprime: [3000, 3500, 4000, 4500] }), { message: /leaves no grid point/ });
});

test('pseudo-data: 10k signal + 100k background by default, shuffled, with isSignal', (t) => {
  const d = lhcoPseudoData(new Rng(8), { nSignal: 1000, nBackground: 10_000 });
  t.is(d.mjj.length, 11_000);
  t.is(mean(d.isSignal) * 11_000, 1000);
  t.true(count(d.isSignal.subarray(0, 1000), 0.5, 2) < 200);
  const signalMjj = d.mjj.filter((_, i) => d.isSignal[i] === 1);
  t.true(Math.abs(median(signalMjj) / 3500 - 1) < 0.03);
  t.is(lhcoPseudoData(new Rng(8)).mjj.length, 110_000);
});

// The real LHCO R&D events live outside the repository (DESIGN.md); without them this check cannot run.
const haveRealData = existsSync(join(LHCO_SR_DATA_DIR, 'innerdata_extrasig_train.npy'));
(haveRealData ? test : test.skip)('calibration: per-feature KS distance to the real LHCO R&D events stays small', async (t) => {
  const c = await calibrateLhco();
  // Bounds = measured values (docs/lhco-simulator.md §4) plus a margin of ~0.015, so regressions fail.
  const bounds: Record<string, Record<string, number>> = {
    background: { mj1: 0.03, dmj: 0.025, tau21j1: 0.03, tau21j2: 0.035, mjj: 0.02 },
    signal: { mj1: 0.037, dmj: 0.036, tau21j1: 0.04, tau21j2: 0.043, mjj: 0.03 },
  };
  for (const row of c.rows) {
    t.true(row.ks < bounds[row.process][row.feature], `${row.process} ${row.feature}: KS ${row.ks.toFixed(3)} ≥ ${bounds[row.process][row.feature]}`);
  }
  t.true(c.realBackground > 100_000 && c.realSignal > 20_000);
});
