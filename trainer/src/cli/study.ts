// `flowscan study toy|lhco`: reproduce a study of the paper end to end, with its report.
import type { Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../train/backend.ts';
import { CLASSIFIER_KINDS, type ClassifierKind } from '../classifier/kinds.ts';
import { choiceOption, integerOption } from './options.ts';

interface StudyCliOptions {
  quick?: boolean;
  full?: boolean;
  out?: string;
  seed: number;
  backend: BackendChoice;
  ship?: boolean;
  models?: string;
  data?: string;
  quantile: boolean;
  maps: boolean;
  fitStart: 'scan' | 'truth';
  dataSeed?: number;
  signalFlows?: number;
  classifier: ClassifierKind;
}

export function register(program: Command): void {
  program
    .command('study')
    .description('Reproduce a study of the paper end to end: simulate, train, export, fit, report (out/<study>/report.html).')
    .argument('<study>', 'toy (bump hunt, §3.1) | lhco (LHCO-like resonance, §3.2) | anomaly (anomaly detection on the real LHCO R&D signal region, docs/anomaly.md) | amplify (MC amplification with a flow and a HistFactory analysis, docs/amplify.md)', choiceOption('study', ['toy', 'lhco', 'anomaly', 'amplify'] as const))
    .option('--quick', 'a small, fast run (smoke test; looser accuracy)')
    .option('--full', 'the demo scale: more events and epochs (slow on 2 cores)')
    .option('--out <dir>', 'output folder (default out/<study>)')
    .option('--seed <n>', 'random seed', integerOption('--seed', 0), 1)
    .option('--backend <name>', `TensorFlow.js backend: ${BACKEND_CHOICES.join(' | ')}`, choiceOption('--backend', BACKEND_CHOICES), 'auto')
    .option('--ship', 'copy the exported toy models into the repository\'s models/ folder')
    .option('--data <dir>', 'anomaly: folder of the LHCO R&D signal-region .npy files (default ../shared/data/lhco-sr beside the repository); amplify: run on that folder\'s labelled QCD events instead of the simulator')
    .option('--no-maps', 'lhco: skip the ΔNLL maps (paper Fig. 7; more than half of the default scale\'s time), e.g. for a study over many seeds')
    .option('--fit-start <where>', 'lhco: start the fit at the best point of the coarse scan (as the paper) or at the truth, skipping the scan (bias studies over seeds, as toys do)', choiceOption('--fit-start', ['scan', 'truth'] as const), 'scan')
    .option('--signal-flows <n>', 'lhco: signal flows trained with different seeds whose mean density is the signal template (an ensemble: one flow\'s training noise moves the fitted masses by about their error; default 1 with --quick, 3 otherwise)', integerOption('--signal-flows', 1))
    .option('--data-seed <n>', 'lhco: seed of the pseudo-data (default: --seed, so that every seed is an independent pseudo-experiment)', integerOption('--data-seed', 0))
    .option('--classifier <kind>', 'anomaly: the supervised and idealised classifiers, mlp or bdt (boosted decision trees)', choiceOption('--classifier', CLASSIFIER_KINDS), 'mlp')
    .option('--no-quantile', 'amplify: the flows map features by logit (probit for m_JJ) instead of Gauss-rank')
    .option('--models <dir>', 'toy: fit and report with models exported earlier (folder with toy-signal/ and toy-background/), no training')
    .addHelpText('after', '\nExamples:\n  flowscan study toy            # what `npm start` runs\n  flowscan study lhco --quick')
    .action(async (study: 'toy' | 'lhco' | 'anomaly' | 'amplify', o: StudyCliOptions) => {
      if (o.quick && o.full) throw new Error('choose one of --quick and --full');
      const scale = o.quick ? 'quick' : o.full ? 'full' : 'default';
      const out = o.out ?? `out/${study}`;
      if (study === 'toy') {
        const { runToyStudy } = await import('../study/toy.ts');
        const result = await runToyStudy({ scale, out, seed: o.seed, backend: o.backend, ship: o.ship ?? false, ...(o.models ? { models: o.models } : {}) });
        const { summaryTable } = await import('./scan.ts');
        for (const c of result.comparisons) {
          process.stdout.write(`\n${c.mode} yields — flow fit:\n${summaryTable(c.flow, { m_pole: 91.2, gamma: 2.5, tau: 0.01 })}\n`);
          process.stdout.write(`exact fit: ${Object.entries(c.exact.values).map(([k, v]) => `${k} = ${v.toPrecision(5)} ± ${c.exact.errors[k].toPrecision(2)}`).join(', ')}\n`);
        }
        process.stdout.write('\npulls of the flow fit against the exact fit (fixed fractions):\n');
        for (const [name, p] of Object.entries(result.pulls)) {
          process.stdout.write(`  ${name.padEnd(7)} (flow − exact)/σ_exact = ${p.pull.toFixed(3).padStart(7)}   σ_flow/σ_exact = ${p.errorRatio.toFixed(3)}\n`);
        }
        if (result.interpolationKs !== undefined) process.stdout.write(`\ninterpolation check at M_pole = 90 GeV: KS = ${result.interpolationKs.toFixed(4)} (see the report)\n`);
        process.stdout.write(`\nreport: ${result.reportPath}\n`);
      } else if (study === 'amplify') {
        const { runAmplifyStudy } = await import('../study/amplify.ts');
        const result = await runAmplifyStudy({ scale, out, seed: o.seed, quantile: o.quantile, ...(o.data ? { dataDir: o.data } : {}) });
        const yesNo = (v: boolean): string => (v ? 'yes' : 'no');
        process.stdout.write(
          `\nμ̂ = 1 within σ at every luminosity — generated backgrounds with their own staterror: ${yesNo(result.withinError.generated)}, ` +
            `with the flow's bootstrap uncertainty: ${yesNo(result.withinError.generatedWithFlowUncertainty)}\nreport: ${result.reportPath}\nsummary: ${result.summaryPath}\n`,
        );
      } else if (study === 'anomaly') {
        const { runAnomalyStudy } = await import('../study/anomaly.ts');
        const result = await runAnomalyStudy({ scale, out, seed: o.seed, classifier: o.classifier, ...(o.data ? { dataDir: o.data } : {}) });
        process.stdout.write(`\nreport: ${result.reportPath}\nsummary: ${result.summaryPath}\n`);
      } else {
        const { runLhcoStudy } = await import('../study/lhco.ts');
        const result = await runLhcoStudy({ scale, out, seed: o.seed, backend: o.backend, maps: o.maps, fitStart: o.fitStart, ...(o.signalFlows !== undefined ? { signalFlows: o.signalFlows } : {}), ...(o.dataSeed !== undefined ? { dataSeed: o.dataSeed } : {}) });
        process.stdout.write(`\nreport: ${result.reportPath}\n`);
      }
    });
}
