// HistFactory against pyhf and ROOT: the reference values (pyhf README model), pyhf's validation cases
// (every modifier type; tests/test_validation.py), its CLs scan and upper limits (tests/test_infer.py,
// tests/contrib/test_viz). Fixtures and their provenance: test/fixtures/histfactory/README.md.
//
// Tolerances. Our fits stop at a projected gradient of 1e-10 (exact minima); pyhf's SLSQP stops earlier, which
// moves its Asimov data set and so its expected CLs by 1e-5…3e-4 relative. The README model shows it: pyhf's
// docstrings publish its fitted Asimov parameters, and with those our CLs equal pyhf's to 1e-7 (test below).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { histfactory as hf } from '@flowscan/runtime';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'histfactory');
const readJson = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

function relativeError(value: number, expected: number): number {
  return Math.abs(value / expected - 1);
}

function readmeModel(): hf.HistFactoryModel {
  return new hf.HistFactoryModel(hf.uncorrelatedBackground([12, 11], [50, 52], [3, 7], [51, 48]));
}

test('README model: parameters, auxiliary data and −2 log L at pyhf\'s fits', async (t) => {
  const model = readmeModel();
  t.deepEqual(model.parameterNames, ['mu', 'uncorr_bkguncrt[0]', 'uncorr_bkguncrt[1]']);
  t.deepEqual(model.suggestedBounds(), [[0, 10], [1e-10, 10], [1e-10, 10]]);
  // τ = (B/δ)²: (50/3)², (52/7)².
  t.true(relativeError(model.auxdata[0], 277.77777778) < 1e-9 && relativeError(model.auxdata[1], 55.18367347) < 1e-9);
  const data = model.observedData();
  // pyhf docstrings: fit → twice_nll 24.98393521, fixed_poi_fit(1) → 28.92218013.
  t.true(Math.abs(2 * (await hf.fit(model, data)).nll - 24.98393521) < 2e-8);
  t.true(Math.abs(2 * (await hf.fixedPoiFit(model, data, 1)).nll - 28.92218013) < 2e-8);
  // q̃μ(1) = 3.93824492 (pyhf docstring of qmu_tilde).
  t.true(Math.abs((await hf.hypotest(model, data, 1)).q - 3.93824492) < 2e-8);
});

test('README model: CLs_obs and expected band (issue 14) within 6e-5; equal to pyhf at its fitted Asimov point', async (t) => {
  const model = readmeModel();
  const data = model.observedData();
  const result = await hf.hypotest(model, data, 1, { testStatistic: 'qtilde' });
  const expectedBand = [0.00260626, 0.01382005, 0.06445321, 0.23525644, 0.57303621];
  t.true(relativeError(result.cls, 0.05251497) < 2e-5, `CLs_obs ${result.cls}`);
  result.expected.forEach((v, i) => t.true(relativeError(v, expectedBand[i]) < 6e-5, `CLs_exp[${i}] ${v}`));
  // Our fit to the data with μ = 0 reaches a lower −log L than pyhf's (its docstring: γ = 1.0030482, 0.96264534)…
  const pyhfAsimovPars = [0, 1.0030482, 0.96264534];
  const ours = await hf.fixedPoiFit(model, data, 0);
  t.true(ours.nll < model.nll(pyhfAsimovPars, data));
  // …and with pyhf's Asimov data set, q̃μ,A and CLs agree with pyhf's numbers to 1e-7.
  const asimov = model.expectedData(pyhfAsimovPars);
  const qA = 2 * ((await hf.fixedPoiFit(model, asimov, 1)).nll - (await hf.fit(model, asimov)).nll);
  const sqrtQ = Math.sqrt(result.q);
  const sqrtQA = Math.sqrt(qA);
  const t0 = (result.q - qA) / (2 * sqrtQA);
  const cls = (x: number) => hf.normalCdf(-(x + sqrtQA)) / hf.normalCdf(-x);
  t.true(sqrtQ > sqrtQA);
  t.true(relativeError(cls(t0), 0.05251497423736956) < 1e-7);
  const fullBand = [0.0026062609501074576, 0.01382005356161206, 0.06445320535890459, 0.23525643861460702, 0.573036205919389];
  [2, 1, 0, -1, -2].forEach((n, i) => t.true(relativeError(cls(n), fullBand[i]) < 1e-7));
});

interface ValidationCase {
  workspace: string;
  mu: number;
  testStatistic: string;
  expected: { obs: number; exp: number[] };
}

const validation = readJson('validation-expected.json') as { cases: Record<string, ValidationCase> };
// pyhf's validation builds its models with normsys code1 (histosys then takes its code0), except the
// shapesys_nuisparfilter case, which uses the defaults code4/code4p. Tolerances: see the module comment; the
// ROOT-referenced cases without constrained α agree to 1e-6.
const SETTINGS: Record<string, { options: hf.ModelOptions; tolerance: number }> = {
  '1bin_shapesys': { options: { normsys: 'code1', histosys: 'code0' }, tolerance: 1e-4 },
  '1bin_shapesys_q0': { options: { normsys: 'code1', histosys: 'code0' }, tolerance: 5e-4 },
  '1bin_lumi': { options: { normsys: 'code1', histosys: 'code0' }, tolerance: 1e-4 },
  '1bin_normsys': { options: { normsys: 'code1', histosys: 'code0' }, tolerance: 1e-4 },
  '2bin_histosys': { options: { normsys: 'code1', histosys: 'code0' }, tolerance: 1e-4 },
  '2bin_2channel': { options: { normsys: 'code1', histosys: 'code0' }, tolerance: 1e-4 },
  '2bin_2channel_couplednorm': { options: { normsys: 'code1', histosys: 'code0' }, tolerance: 2e-4 },
  '2bin_2channel_coupledhistosys': { options: { normsys: 'code1', histosys: 'code0' }, tolerance: 1e-4 },
  '2bin_2channel_coupledshapefactor': { options: { normsys: 'code1', histosys: 'code0' }, tolerance: 1e-6 },
  shapesys_nuisparfilter: { options: {}, tolerance: 1e-6 },
};

for (const [name, c] of Object.entries(validation.cases)) {
  test(`pyhf validation ${name}: ${c.testStatistic} at μ = ${c.mu}`, async (t) => {
    const { options, tolerance } = SETTINGS[name];
    const model = new hf.HistFactoryModel(hf.parseWorkspace(readJson(c.workspace), c.workspace), options);
    const result = await hf.hypotest(model, model.observedData(), c.mu, { testStatistic: hf.checkTestStatistic(c.testStatistic) });
    t.true(relativeError(result.pValue, c.expected.obs) < tolerance, `observed ${result.pValue} vs ${c.expected.obs}`);
    result.expected.forEach((v, i) => t.true(relativeError(v, c.expected.exp[i]) < tolerance, `expected[${i}] ${v} vs ${c.expected.exp[i]}`));
  });
}

test('README model: CLs, CLs+b, CLb and the band over μ = 0…5 follow pyhf\'s scan', async (t) => {
  const reference = readJson('readme-tail-probs.json') as { testmus: number[]; results: [number, [number, number], number[]][] };
  const model = readmeModel();
  const every = reference.testmus.filter((_, i) => i % 4 === 0);
  const results = await hf.clsScan(model, model.observedData(), every);
  results.forEach((r, k) => {
    const [cls, [clsb, clb], band] = reference.results[4 * k];
    if (r.poiValue === 0) {
      t.true(Math.abs(r.cls - 1) < 1e-12 && Math.abs(cls - 1) < 1e-3);
      return;
    }
    t.true(relativeError(r.cls, cls) < 1e-4, `μ = ${r.poiValue}: CLs ${r.cls} vs ${cls}`);
    t.true(relativeError(r.clsb, clsb) < 1e-4 && relativeError(r.clb, clb) < 1e-4);
    // Far tails (CLs ~ 1e-20) amplify pyhf's σ error; compare the band where CLs > 1e-6.
    r.expected.forEach((v, i) => {
      if (band[i] > 1e-6) t.true(relativeError(v, band[i]) < 5e-4, `μ = ${r.poiValue}: band[${i}] ${v} vs ${band[i]}`);
    });
  });
});

test('README model: upper limits by root finding and from an 11-point scan match pyhf', async (t) => {
  const model = readmeModel();
  const data = model.observedData();
  const limits = await hf.upperLimit(model, data);
  // pyhf upper_limit(data, model, rtol=1e-6) (tests/test_infer.py); the issue's −2σ value 0.5600747 is pyhf's
  // toms748 stopped at rtol = 0.01 (its docstring), 3.4e-4 from the root.
  t.true(relativeError(limits.observed as number, 1.01156939) < 1e-5);
  [0.55988001, 0.75702336, 1.06234693, 1.50116923, 2.05078596].forEach((v, i) => t.true(relativeError(limits.expected[i] as number, v) < 1e-5));
  for (const r of limits.points) t.true(Number.isFinite(r.cls));
  const scan = hf.limitsFromScan(await hf.clsScan(model, data, Array.from({ length: 11 }, (_, i) => i / 2)));
  t.true(relativeError(scan.observed as number, 1.0262704738584554) < 1e-5);
  [0.65765653, 0.87999725, 1.12453992, 1.50243428, 2.09232927].forEach((v, i) => t.true(relativeError(scan.expected[i] as number, v) < 3e-5));
});
