// Not part of `npm test`: a signal flow's own bias and training noise on the LHCO-like study (issue 17), without the
// pseudo-data's fluctuation. Fits each given signal flow alone, then their ensemble (mean density), to the same n
// simulated signal events at the study's benchmark (3500, 500, 100) GeV inside its m_JJ window, from the truth, and
// prints each fit's offsets from the truth in GeV and in the study's 10k-event errors, then the members' mean and
// standard deviation. The events carry a statistical error of their own (±0.55, ±0.15, ±0.06 GeV for 50k), common
// to every fit of one event seed: compare members on one seed, and average over event seeds for a shared bias.
//   nice -n 10 npx tsx --conditions=flowscan-source test/bench/lhco-signal-only.ts [--events 50000] [--event-seed 777] [--no-ensemble] out/lhco/models/lhco-signal out/lhco/models/lhco-signal-2 …
import { parseArgs } from 'node:util';
import { MixtureLikelihood, Rng, fitLikelihood, type FlowModel } from '@flowscan/runtime';
import { loadModel } from '@flowscan/runtime/node';
import { LHCO_BENCHMARK_POINT } from '../../trainer/src/data/lhco.ts';
import { LHCO_STUDY_TRUTH, pointLabel, simulateSelectedSignal, withLighterJetMass } from '../../trainer/src/study/lhco-data.ts';
import { meanAndWidth } from '../../trainer/src/toys/statistics.ts';

/** The study's Hessian errors with 10k signal + 100k background events (README, five seeds at the default scale). */
const STUDY_ERRORS: Record<keyof typeof LHCO_STUDY_TRUTH, number> = { m_zprime: 1.38, m_x: 0.345, m_y: 0.139 };
const NAMES = Object.keys(LHCO_STUDY_TRUTH) as (keyof typeof LHCO_STUDY_TRUTH)[];

const { values, positionals: folders } = parseArgs({
  allowPositionals: true,
  options: { events: { type: 'string', default: '50000' }, 'event-seed': { type: 'string', default: '777' }, 'no-ensemble': { type: 'boolean', default: false } },
});
const n = Number(values.events);
const eventSeed = Number(values['event-seed']);
if (!(Number.isInteger(n) && n > 0) || !Number.isInteger(eventSeed)) throw new Error(`--events and --event-seed take integers (events > 0), got ${values.events} and ${values['event-seed']}`);
if (folders.length === 0) throw new Error('give one or more exported LHCO signal flow folders, e.g. out/lhco/models/lhco-signal');

const events = withLighterJetMass(simulateSelectedSignal(new Rng(eventSeed).fork(5), n, LHCO_BENCHMARK_POINT));
const models = await Promise.all(folders.map((folder) => loadModel(folder, { ep: 'cpu' })));

async function offsets(model: FlowModel | FlowModel[]): Promise<Record<string, number>> {
  const likelihood = new MixtureLikelihood({ components: [{ name: 'signal', model, fraction: 1 }], events, yields: 'fixed-fractions', outsideSupport: 'drop' });
  const fit = await fitLikelihood(likelihood, { start: { ...LHCO_STUDY_TRUTH }, starts: 1, globalSearch: false });
  return Object.fromEntries(fit.parameters.map((p) => [p.name, p.value - LHCO_STUDY_TRUTH[p.name as keyof typeof LHCO_STUDY_TRUTH]]));
}

const line = (label: string, o: Record<string, number>): string =>
  `${label.padEnd(40)} ${NAMES.map((p) => `${p} ${o[p] >= 0 ? '+' : ''}${o[p].toFixed(2)} GeV (${(o[p] / STUDY_ERRORS[p]).toFixed(2)}σ)`).join('  ')}`;

console.log(`${n} simulated signal events at ${pointLabel(LHCO_BENCHMARK_POINT)} GeV, event seed ${eventSeed}; offsets fit − truth, σ = the study's 10k-event errors`);
const members: Record<string, number>[] = [];
for (const [m, model] of models.entries()) {
  members.push(await offsets(model));
  console.log(line(folders[m], members[m]));
}
if (members.length > 1) {
  const spread = Object.fromEntries(NAMES.map((p) => [p, meanAndWidth(members.map((o) => o[p]))]));
  console.log(line('members: mean', Object.fromEntries(NAMES.map((p) => [p, spread[p].mean]))));
  console.log(line('members: standard deviation', Object.fromEntries(NAMES.map((p) => [p, spread[p].width]))));
  if (!values['no-ensemble']) console.log(line('ensemble (mean density)', await offsets(models)));
}
