// The bump hunt after CATHODE cuts on the LHCO-like simulator (issue 13 item 3), as `flowscan study anomaly` runs
// it, without the real-data methods: per seed, a simulated search (the scale's sizes), ANODE and CATHODE
// (runLocalisation), then fresh simulated data scored by the CATHODE classifier and fitted without a cut and
// after cuts keeping 20 %, 5 % and 1 % of the signal-region events (simulator-bump-hunt.ts). Prints each fit and
// the mean ± standard deviation over the seeds.
//   npx tsx test/bench/bump-hunt-simulator.ts [--scale quick|default] [--seeds 1,1001,2001]
import { parseArgs } from 'node:util';
import { runLocalisation, simulateSearch } from '../../trainer/src/anomaly/localisation.ts';
import { meanAndSpread, scoreMetrics } from '../../trainer/src/anomaly/metrics.ts';
import { simulatorBumpHunt, simulatorBumpHuntOptions } from '../../trainer/src/anomaly/simulator-bump-hunt.ts';
import { ANOMALY_SCALES, methodSettings } from '../../trainer/src/study/anomaly.ts';
import type { CutSignificance } from '../../trainer/src/anomaly/bump-hunt.ts';

const { values } = parseArgs({ options: { scale: { type: 'string', default: 'quick' }, seeds: { type: 'string', default: '1,1001,2001' } } });
const scaleName = values.scale as keyof typeof ANOMALY_SCALES;
if (!(scaleName in ANOMALY_SCALES)) throw new Error(`--scale must be one of ${Object.keys(ANOMALY_SCALES).join(', ')}, got ${values.scale}`);
const scale = ANOMALY_SCALES[scaleName];
const settings = methodSettings(scale, 1);
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const fit = simulatorBumpHuntOptions(0);
say(`fit: ${fit.range.join('–')} GeV in ${fit.bins} bins, ${fit.backgroundParameters}-parameter dijet function, Gaussian signal at ${fit.signal.mass.toFixed(0)} GeV with σ ${fit.signal.sigma.toFixed(0)} GeV`);
const hunts: CutSignificance[][] = [];
for (const seed of values.seeds!.split(',').map(Number)) {
  const started = performance.now();
  // The study's seeds: the search from seed + 77, the trainings from seed, the bump-hunt data from seed + 500.
  const search = simulateSearch(seed + 77, scale.simulator);
  const result = await runLocalisation(search, { flow: settings.flow, train: settings.train, classifier: settings.classifier, oversampling: 2, threads: 1 }, seed);
  const cathode = scoreMetrics(result.cathode, search.test.label);
  const hunt = await simulatorBumpHunt(result.models.cathode, scale.simulator, seed + 500);
  say(`seed ${seed} (${((performance.now() - started) / 1000).toFixed(0)} s): CATHODE AUC ${cathode.auc.toFixed(3)}, max SIC ${cathode.maxSic?.sic.toFixed(2)}`);
  for (const h of hunt) {
    say(
      `  ${h.efficiency === 1 ? 'no cut' : `keep ${100 * h.efficiency} %`}: ${h.events} events in the fit, ${h.signalEvents} signal; Z ${h.result.significance.z.toFixed(2)} ` +
        `(fitted yield ${h.result.signalYield.toFixed(0)}), Z / Z(no cut) ${h.improvement?.toFixed(2) ?? '— (no uncut signal)'}, background only Z ${h.backgroundOnlyZ?.toFixed(2) ?? '—'}`,
    );
  }
  hunts.push(hunt);
}
const summary = (values: number[]): string => {
  if (values.length === 0) return '—';
  const s = meanAndSpread(values);
  return `${s.mean.toFixed(2)} ± ${s.spread.toFixed(2)}`;
};
hunts[0].forEach((row, c) => {
  const rows = hunts.map((h) => h[c]);
  say(
    `${row.efficiency === 1 ? 'no cut' : `keep ${100 * row.efficiency} %`}: Z ${summary(rows.map((r) => r.result.significance.z))}, Z / Z(no cut) ${summary(rows.flatMap((r) => (r.improvement === null ? [] : [r.improvement])))}, ` +
      `background only Z ${summary(rows.map((r) => r.backgroundOnlyZ ?? Number.NaN))}, signal events ${summary(rows.map((r) => r.signalEvents))}`,
  );
});
