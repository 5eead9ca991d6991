// HistFactory model pieces against independent oracles: the NLL gradient against finite differences with every
// modifier, the interpolations against their defining conditions, special functions against @stdlib and sums of
// logs, a one-bin model's CLs against the closed form, a staterror profile against its quadratic, toys against
// asymptotics, and the workspace's validation messages and JSON round trip.
import test from 'ava';
import erfcReference from '@stdlib/math-base-special-erfc';
import { histfactory as hf } from '@flowscan/runtime';
import { histosysShift, normsysFactor } from '../runtime/src/histfactory/interpolation.ts';
import { erfc, logGamma } from '../runtime/src/histfactory/special.ts';

/** Two channels with every modifier type, shared names across samples and channels. */
function everyModifier(): hf.Workspace {
  return hf.createWorkspace({
    channels: [
      {
        name: 'SR',
        samples: [
          { name: 'signal', data: [5, 8, 3], modifiers: [hf.normfactor('mu'), hf.normsys('sig_theory', 0.9, 1.15), hf.lumi()] },
          {
            name: 'ttbar',
            data: [40, 30, 20],
            modifiers: [hf.histosys('jes', [36, 29, 21], [45, 31, 18]), hf.normsys('jes', 0.95, 1.06), hf.staterror('stat_SR', [3, 2, 2]), hf.lumi()],
          },
          { name: 'wjets', data: [20, 15, 6], modifiers: [hf.staterror('stat_SR', [2, 2, 1]), hf.shapesys('wjets_shape', [4, 0, 1.5])] },
        ],
      },
      { name: 'CR', samples: [{ name: 'ttbar', data: [200, 150, 90], modifiers: [hf.shapefactor('cr_sf'), hf.histosys('jes', [190, 148, 95], [212, 151, 86])] }] },
    ],
    observations: { SR: [70, 52, 31], CR: [205, 148, 93] },
    poi: 'mu',
    parameters: [{ name: 'lumi', auxdata: [1], sigmas: [0.02], inits: [1], bounds: [[0.8, 1.2]] }],
  });
}

test('the NLL gradient equals central finite differences, for each interpolation code', (t) => {
  for (const normsys of ['code1', 'code4'] as const) {
    for (const histosys of ['code0', 'code4p'] as const) {
      const model = new hf.HistFactoryModel(everyModifier(), { normsys, histosys });
      const data = model.observedData();
      // Away from the kinks (α = 0, ±1) so that the finite differences see one branch.
      const pars = Float64Array.from(model.parameterNames, (name, i) => (name === 'jes' ? -1.4 : name === 'sig_theory' ? 0.6 : model.suggestedInits()[i] * (1 + 0.03 * ((i % 3) - 1))));
      const gradient = new Float64Array(model.dimension);
      model.nllWithGradient(pars, data, gradient);
      for (let i = 0; i < model.dimension; i++) {
        const h = 1e-6;
        const up = Float64Array.from(pars);
        const down = Float64Array.from(pars);
        up[i] += h;
        down[i] -= h;
        const numeric = (model.nll(up, data) - model.nll(down, data)) / (2 * h);
        t.true(Math.abs(numeric - gradient[i]) < 1e-5 * Math.max(1, Math.abs(numeric)), `${normsys}/${histosys} ${model.parameterNames[i]}: ${gradient[i]} vs ${numeric}`);
      }
    }
  }
});

test('parameter layout: pyhf order, shared staterror per bin, fixed empty shapesys bin, shared jes between normsys and histosys', (t) => {
  const model = new hf.HistFactoryModel(everyModifier());
  t.deepEqual(
    model.parameters.map((p) => [p.name, p.size]),
    [['jes', 1], ['lumi', 1], ['mu', 1], ['sig_theory', 1], ['cr_sf', 3], ['wjets_shape', 3], ['stat_SR', 3]],
  );
  const stat = model.parameters.find((p) => p.name === 'stat_SR') as hf.ParameterSet;
  // σ_b = √(Σ δ²) / Σ B over ttbar and wjets.
  const expected = [Math.hypot(3, 2) / 60, Math.hypot(2, 2) / 45, Math.hypot(2, 1) / 26];
  if (stat.constraint?.type !== 'normal') throw new Error('staterror must be Gaussian');
  stat.constraint.sigmas.forEach((s, b) => t.true(Math.abs(s - expected[b]) < 1e-15));
  const shapesys = model.parameters.find((p) => p.name === 'wjets_shape') as hf.ParameterSet;
  t.deepEqual(shapesys.fixed, [false, true, false]);
  if (shapesys.constraint?.type !== 'poisson') throw new Error('shapesys must be Poisson');
  t.deepEqual(shapesys.constraint.factors, [(20 / 4) ** 2, 1, (6 / 1.5) ** 2]);
});

test('interpolation codes meet their definitions at α = 0 and ±1', (t) => {
  const close = (a: number, b: number, what: string) => t.true(Math.abs(a - b) < 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
  const [lo, hi] = [0.8, 1.3];
  const code4 = normsysFactor(lo, hi, 'code4');
  close(code4.at(0).value, 1, 'code4 f(0)');
  for (const [alpha, value, slope] of [[1, hi, hi * Math.log(hi)], [-1, lo, -lo * Math.log(lo)]]) {
    const inside = code4.at(alpha * (1 - 1e-9));
    t.true(Math.abs(inside.value - value) < 1e-8, `code4 f(${alpha}): ${inside.value} vs ${value}`);
    t.true(Math.abs(inside.slope - slope) < 1e-7, `code4 f'(${alpha})`);
    // Curvature continuity: the slope's change over a small step matches that of the exponential branch.
    const d = 1e-4 * alpha;
    const curvatureInside = (code4.at(alpha - 1e-9 * alpha).slope - code4.at(alpha - d).slope) / d;
    const curvatureOutside = (code4.at(alpha + d).slope - code4.at(alpha).slope) / d;
    t.true(Math.abs(curvatureInside - curvatureOutside) < 1e-3, `code4 f''(${alpha}) ${curvatureInside} vs ${curvatureOutside}`);
  }
  const code1 = normsysFactor(lo, hi, 'code1');
  close(code1.at(0.5).value, Math.sqrt(hi), 'code1');
  close(code1.at(-2).value, lo * lo, 'code1');
  for (const code of ['code0', 'code4p'] as const) {
    close(histosysShift(5, 3, 1, code).value, 5, `${code} Δ(1)`);
    close(histosysShift(5, 3, -1, code).value, -3, `${code} Δ(−1)`);
    close(histosysShift(5, 3, 0, code).value, 0, `${code} Δ(0)`);
    close(histosysShift(5, 3, 2.5, code).value, 12.5, `${code} Δ(2.5)`);
  }
  close(histosysShift(5, 3, 1 - 1e-12, 'code4p').slope, 5, 'code4p slope at 1');
});

test('erfc matches @stdlib to 1e-11 relative on −6…26; log Γ(n + 1) matches Σ log k', (t) => {
  let worst = 0;
  for (let x = -6; x <= 26; x += 0.01) worst = Math.max(worst, Math.abs(erfc(x) / erfcReference(x) - 1));
  t.true(worst < 1e-11, `worst ${worst}`);
  let sum = 0;
  for (let n = 1; n <= 300; n++) {
    sum += Math.log(n);
    t.true(Math.abs(logGamma(n + 1) - sum) < 1e-13 * Math.max(1, sum));
  }
  t.true(Math.abs(logGamma(0.5) - 0.5 * Math.log(Math.PI)) < 1e-14);
  t.true(Math.abs(hf.normalQuantile(hf.normalCdf(-5.3)) + 5.3) < 1e-10);
});

test('one bin, no nuisance parameters: CLs (q̃μ and qμ) and p0 equal the closed form', async (t) => {
  const [s, b, n] = [10, 50, 57];
  const model = new hf.HistFactoryModel(
    hf.createWorkspace({ channels: [{ name: 'bin', samples: [{ name: 'sig', data: [s], modifiers: [hf.normfactor('mu')] }, { name: 'bkg', data: [b], modifiers: [] }] }], observations: { bin: [n] }, poi: 'mu' }),
  );
  // −2 log λ(μ) for a Poisson count with ν = μs + b, μ̂ = (n − b)/s; the Asimov data (μ = 0) is n = b, μ̂_A = 0.
  const twiceNll = (mu: number, count: number) => 2 * (mu * s + b - count * Math.log(mu * s + b));
  const phi = (z: number) => 0.5 * erfcReference(-z / Math.SQRT2);
  for (const mu of [0.5, 1.5, 3]) {
    const q = Math.max(twiceNll(mu, n) - twiceNll((n - b) / s, n), 0) * ((n - b) / s > mu ? 0 : 1);
    const qA = twiceNll(mu, b) - twiceNll(0, b);
    const [sq, sqA] = [Math.sqrt(q), Math.sqrt(qA)];
    // q̃μ: CCGV eq. 66 (linear branch beyond √qμ,A), CLs = CLs+b / CLb.
    const tTilde = sq <= sqA ? sq - sqA : (q - qA) / (2 * sqA);
    for (const [kind, stat] of [['qtilde', tTilde], ['q', sq - sqA]] as const) {
      const cls = phi(-(stat + sqA)) / phi(-stat);
      const result = await hf.hypotest(model, model.observedData(), mu, { testStatistic: kind });
      t.true(Math.abs(result.cls / cls - 1) < 1e-8, `${kind} μ = ${mu}: ${result.cls} vs ${cls}`);
    }
  }
  const q0 = twiceNll(0, n) - twiceNll((n - b) / s, n);
  const p0 = await hf.hypotest(model, model.observedData(), 0, { testStatistic: 'q0' });
  t.true(Math.abs(p0.pValue / phi(-Math.sqrt(q0)) - 1) < 1e-8);
});

test('staterror: the profiled γ and qμ equal the roots of the profile quadratic', async (t) => {
  const [s, b1, b2, d1, d2, n] = [12, 60, 25, 6, 4, 104];
  const model = new hf.HistFactoryModel(
    hf.createWorkspace({
      channels: [
        {
          name: 'bin',
          samples: [
            { name: 'sig', data: [s], modifiers: [hf.normfactor('mu')] },
            { name: 'b1', data: [b1], modifiers: [hf.staterror('stat', [d1])] },
            { name: 'b2', data: [b2], modifiers: [hf.staterror('stat', [d2])] },
          ],
        },
      ],
      observations: { bin: [n] },
      poi: 'mu',
    }),
  );
  const B = b1 + b2;
  const sigma = Math.hypot(d1, d2) / B;
  // ∂/∂γ [μs + γB − n log(μs + γB) + (γ − 1)²/2σ²] = 0  ⇔  (B/σ²)γ² + (B² + (μs − B)/σ²)γ + (Bμs − nB − μs/σ²) = 0.
  const profiledGamma = (mu: number) => {
    const [a, bb, c] = [B / sigma ** 2, B * B + (mu * s - B) / sigma ** 2, B * mu * s - n * B - (mu * s) / sigma ** 2];
    return (-bb + Math.sqrt(bb * bb - 4 * a * c)) / (2 * a);
  };
  const nll = (mu: number, g: number) => mu * s + g * B - n * Math.log(mu * s + g * B) + (g - 1) ** 2 / (2 * sigma ** 2);
  const data = model.observedData();
  const [gammaIndex] = [model.parameterNames.indexOf('stat[0]')];
  for (const mu of [0, 1, 2]) {
    const fitted = await hf.fixedPoiFit(model, data, mu);
    t.true(Math.abs(fitted.parameters[gammaIndex] - profiledGamma(mu)) < 1e-8);
  }
  // Free fit: ν̂ = n with γ̂ = 1 (μ̂ = (n − B)/s > 0), so qμ = 2 (NLL(μ, γ̂̂) − NLL(μ̂, 1)).
  const q = 2 * (nll(2, profiledGamma(2)) - nll((n - B) / s, 1));
  t.true(Math.abs((await hf.hypotest(model, data, 2, { testStatistic: 'q' })).q - q) < 1e-8);
});

test('toys: CLs from 400 pseudo-experiments per hypothesis agrees with the asymptotic CLs on a high-count model', async (t) => {
  const model = new hf.HistFactoryModel(hf.uncorrelatedBackground([30], [400], [20], [410]));
  const data = model.observedData();
  const asymptotic = await hf.hypotest(model, data, 1.5, { testStatistic: 'q' });
  const toys = await hf.toyHypotest(model, data, 1.5, { testStatistic: 'q', toys: 400, seed: 7 });
  // Binomial error of CLs+b with 400 toys, propagated to the ratio (CLb ≈ 0.5–0.7 is better known).
  const error = Math.sqrt(asymptotic.clsb * (1 - asymptotic.clsb) / 400) / asymptotic.clb;
  t.true(Math.abs(toys.cls - asymptotic.cls) < 4 * error + 0.01, `toys ${toys.cls} vs asymptotics ${asymptotic.cls} (σ ≈ ${error})`);
  const again = await hf.toyHypotest(model, data, 1.5, { testStatistic: 'q', toys: 20, seed: 7 });
  const same = await hf.toyHypotest(model, data, 1.5, { testStatistic: 'q', toys: 20, seed: 7 });
  t.deepEqual(again, same);
});

test('workspace errors name the channel, sample and modifier and say what was expected', (t) => {
  const good = JSON.parse(hf.workspaceToJson(everyModifier())) as hf.Workspace;
  const broken = JSON.parse(JSON.stringify(good)) as { channels: { samples: { modifiers: { data: unknown }[] }[] }[] };
  broken.channels[0].samples[1].modifiers[0].data = { hi_data: [1, 2], lo_data: [1, 2, 3] };
  t.throws(() => hf.parseWorkspace(broken, 'ws.json'), { message: /channel 'SR' → sample 'ttbar' → modifier 'jes' \(histosys\): hi_data has 2 bins, expected 3/ });
  const wrongType = JSON.parse(JSON.stringify(good)) as { channels: { samples: { modifiers: { type: string }[] }[] }[] };
  wrongType.channels[0].samples[0].modifiers[0].type = 'normfactr';
  t.throws(() => hf.parseWorkspace(wrongType, 'ws.json'), { message: /channels\[0\] 'SR' → samples\[0\] 'signal' → modifiers\[0\] 'mu' → type: must be equal to one of the allowed values \(normfactor, shapefactor/ });
  const noObservation = { ...good, observations: good.observations.filter((o) => o.name !== 'CR') };
  t.throws(() => hf.parseWorkspace(noObservation), { message: /channel 'CR' has no observation/ });
  t.throws(() => new hf.HistFactoryModel(good, { poi: 'nope' }), { message: /parameter of interest 'nope' is not a parameter of the model/ });
  const noLumi = { ...good, measurements: [{ name: 'm', config: { poi: 'mu', parameters: [] } }] };
  t.throws(() => new hf.HistFactoryModel(noLumi), { message: /lumi modifier needs its constraint in measurement 'm'/ });
});

test('a workspace survives the JSON round trip, and the model built from it gives the same NLL', (t) => {
  const ws = everyModifier();
  const text = hf.workspaceToJson(ws);
  const again = hf.parseWorkspace(JSON.parse(text));
  t.is(hf.workspaceToJson(again), text);
  const [a, b] = [new hf.HistFactoryModel(ws), new hf.HistFactoryModel(again)];
  t.is(a.nll(a.suggestedInits(), a.observedData()), b.nll(b.suggestedInits(), b.observedData()));
});
