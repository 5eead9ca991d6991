// `flowscan classify train --classifier bdt` in the test's process: it exports boosted trees that the runtime
// loads and that separate two Gaussians as the Bayes AUC allows, and options of the other kind are refused.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, aucWithError, formatEventsCsv } from '@flowscan/runtime';
import { loadClassifier } from '@flowscan/runtime/node';
import erfc from '@stdlib/math-base-special-erfc';
import { flowscanInProcess, flowscanRefusal } from './helpers/in-process.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const folder = temporaryFolder('flowscan-bdt-cli-');

/** n events of two unit-variance features around (shift, 0). */
function sample(rng: Rng, n: number, shift: number): { a: Float64Array; b: Float64Array } {
  return { a: Float64Array.from({ length: n }, () => shift + rng.normal()), b: Float64Array.from({ length: n }, () => rng.normal()) };
}

let files: Promise<[string, string]> | null = null;
const writeSamples = (): Promise<[string, string]> =>
  (files ??= (async () => {
    const rng = new Rng(11);
    const paths: [string, string] = [join(folder(), 'signal.csv'), join(folder(), 'background.csv')];
    await writeFile(paths[0], formatEventsCsv(sample(rng, 2000, 1.2), ['a', 'b']));
    await writeFile(paths[1], formatEventsCsv(sample(rng, 2000, 0), ['a', 'b']));
    return paths;
  })());

test('classify train --classifier bdt exports boosted trees that the runtime loads and that reach the Bayes AUC', async (t) => {
  const [signal, background] = await writeSamples();
  const out = join(folder(), 'bdt');
  const run = await flowscanInProcess(['classify', 'train', '--classifier', 'bdt', '--signal', signal, '--background', background, '--features', 'a,b', '--ensemble', '3', '--leaves', '8', '--lr', '0.2', '--out', out]);
  t.is(run.error, null, run.error?.message);
  const model = await loadClassifier(out);
  t.like(model.manifest.network, { kind: 'boosted-trees', models: 3, maxLeafNodes: 8, learningRate: 0.2 });
  // Fresh events: the Bayes AUC of a 1.2σ shift is Φ(1.2/√2) = 0.802; a few hundred trees on 3200 events come close.
  const rng = new Rng(12);
  const score = async (shift: number): Promise<Float32Array> => {
    const { a, b } = sample(rng, 5000, shift);
    return (await model.score(Float64Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? a[i >> 1] : b[i >> 1])), 5000)).logit;
  };
  const auc = aucWithError({ scores: await score(1.2) }, { scores: await score(0) });
  await model.release();
  const bayes = 0.5 * erfc(-1.2 / 2);
  t.true(auc.auc > bayes - 0.02 && auc.auc < bayes + 3 * auc.standardError, `AUC ${auc.auc} ± ${auc.standardError}, Bayes ${bayes}`);
});

test('classify train refuses options of the other classifier kind and unknown kinds, by name', async (t) => {
  const [signal, background] = await writeSamples();
  const base = ['classify', 'train', '--signal', signal, '--background', background, '--features', 'a,b', '--out', join(folder(), 'refused')];
  t.regex(await flowscanRefusal([...base, '--classifier', 'bdt', '--hidden', '16,16']), /--hidden is an option of --classifier mlp; --classifier bdt does not read it/);
  t.regex(await flowscanRefusal([...base, '--classifier', 'bdt', '--folds', '3']), /--folds is an option of --classifier mlp \(k-fold scoring trains networks\)/);
  t.regex(await flowscanRefusal([...base, '--min-leaf', '5']), /--min-leaf is an option of --classifier bdt; --classifier mlp does not read it/);
  t.regex(await flowscanRefusal([...base, '--classifier', 'xgboost']), /--classifier.*xgboost/);
  t.regex(await flowscanRefusal([...base, '--classifier', 'bdt', '--bins', '300']), /--bins/);
  t.regex(await flowscanRefusal(['study', 'anomaly', '--quick', '--classifier', 'forest']), /--classifier.*forest/);
});
