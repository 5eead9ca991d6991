import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { readEventsCsvFile } from '../runtime/src/node/files.ts';
import { register } from '../trainer/src/cli/simulate.ts';

/** Runs `flowscan simulate …` in-process; returns stdout, or throws with commander's or our error. */
async function cli(args: string[]): Promise<string> {
  const program = new Command('flowscan').exitOverride();
  let output = '';
  program.configureOutput({ writeOut: (s) => (output += s), writeErr: (s) => (output += s) });
  register(program);
  for (const command of program.commands) command.exitOverride().configureOutput({ writeOut: (s) => (output += s), writeErr: (s) => (output += s) });
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => ((output += s), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['simulate', ...args, '--quiet'], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return output;
}

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscan-simulate-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test.serial('toy signal: CSV with x and θ columns, θ inside the ranges, the excluded M_pole absent, seed-reproducible', async (t) => {
  const path = join(dir, 'toy', 'signal.csv');
  const summary = await cli(['toy', '--events', '3000', '--seed', '5', '--exclude-mpole', '85,95', '--out', path]);
  t.regex(summary, /simulated 3000 toy signal events \(M_pole in \[85, 95\] GeV excluded\) with seed 5 .* wrote columns x,m_pole,gamma to/);
  const text = await readFile(path, 'utf8');
  t.true(text.startsWith('x,m_pole,gamma\n'));
  const { columns, rows } = await readEventsCsvFile(path, { columns: ['x', 'm_pole', 'gamma'] });
  t.is(rows, 3000);
  t.true(columns.x.every((x) => x >= 40 && x <= 140));
  t.true(columns.m_pole.every((m) => m >= 60 && m <= 120 && !(m >= 85 && m <= 95)));
  t.true(columns.gamma.every((g) => g >= 0.5 && g <= 5));
  const again = join(dir, 'again.csv');
  await cli(['toy', '--events', '3000', '--seed', '5', '--exclude-mpole', '85,95', '--out', again]);
  t.is(await readFile(again, 'utf8'), text);
});

test.serial('toy background and pseudo-data columns', async (t) => {
  const bkg = join(dir, 'bkg.csv');
  await cli(['toy', '--process', 'background', '--events', '500', '--out', bkg]);
  const b = await readEventsCsvFile(bkg, { columns: ['x', 'tau'] });
  t.true(b.columns.tau.every((tau) => tau >= 1e-3 && tau <= 0.1));
  const data = join(dir, 'data.csv');
  await cli(['toy', '--process', 'pseudo-data', '--signal-events', '20', '--background-events', '300', '--truth', '70,1,0.05', '--out', data]);
  const d = await readEventsCsvFile(data, { columns: ['x', 'is_signal'] });
  t.is(d.rows, 320);
  t.is(d.columns.is_signal.reduce((s, v) => s + v, 0), 20);
});

test.serial('lhco: grid training set with exclusions, background, pseudo-data', async (t) => {
  const sig = join(dir, 'lhco-signal.csv');
  const summary = await cli(['lhco', '--exclude-mzprime', '3000,4500', '--events', '400', '--out', sig]);
  t.regex(summary, /400 LHCO signal events \(10 at each of 40 grid points; m_Z′ = 3000, 4500 GeV excluded\)/);
  const s = await readEventsCsvFile(sig, { columns: ['mj1', 'dmj', 'tau21j1', 'tau21j2', 'mjj', 'm_zprime', 'm_x', 'm_y'] });
  t.is(s.rows, 400);
  t.deepEqual([...new Set(s.columns.m_zprime)].sort(), [3500, 4000]);
  const bkg = join(dir, 'lhco-bkg.csv');
  await cli(['lhco', '--process', 'background', '--events', '200', '--mjj-range', '3300,3700', '--out', bkg]);
  const b = await readEventsCsvFile(bkg, { columns: ['mjj'] });
  t.true(b.columns.mjj.every((m) => m >= 3300 && m <= 3700));
  t.false((await readFile(bkg, 'utf8')).split('\n')[0].includes('m_zprime'));
  const data = join(dir, 'lhco-data.csv');
  await cli(['lhco', '--process', 'pseudo-data', '--signal-events', '10', '--background-events', '90', '--point', '3750,500,100', '--out', data]);
  const d = await readEventsCsvFile(data, { columns: ['mjj', 'is_signal', 'mj1', 'dmj', 'mj2'] });
  t.is(d.rows, 100);
  t.true(d.columns.mj2.every((m, i) => Math.abs(m - (d.columns.mj1[i] - d.columns.dmj[i])) < 1e-9 * d.columns.mj1[i]), 'mj2 = mj1 − dmj on every row');
});

test.serial('invalid options and combinations are refused with what to do', async (t) => {
  const out = join(dir, 'x.csv');
  await t.throwsAsync(cli(['toy']), { message: /no output file: pass --out FILE\.csv/ });
  await t.throwsAsync(cli(['toy', '--out', join(dir, 'x.txt')]), { message: /name the file \*\.csv/ });
  await t.throwsAsync(cli(['mc', '--out', out]), { message: /study must be one of toy, lhco, got "mc"/ });
  await t.throwsAsync(cli(['toy', '--events', '0', '--out', out]), { message: /--events must be an integer in \[1,/ });
  await t.throwsAsync(cli(['toy', '--exclude-mpole', '95,85', '--out', out]), { message: /low < high/ });
  await t.throwsAsync(cli(['toy', '--process', 'background', '--exclude-mpole', '85,95', '--out', out]), { message: /--exclude-mpole applies only to `simulate toy --process signal`/ });
  await t.throwsAsync(cli(['toy', '--exclude-mzprime', '3500', '--out', out]), { message: /--exclude-mzprime applies only/ });
  await t.throwsAsync(cli(['lhco', '--exclude-mzprime', '3200', '--out', out]), { message: /3200: not a grid value.*3000, 3500, 4000, 4500/ });
  await t.throwsAsync(cli(['lhco', '--events', '1000', '--out', out]), { message: /multiple of 80, e\.g\. 960 or 1040/ });
  await t.throwsAsync(cli(['lhco', '--process', 'pseudo-data', '--events', '10', '--out', out]), { message: /--signal-events and --background-events/ });
  await t.throwsAsync(cli(['lhco', '--calibrate', '--out', out]), { message: /--calibrate writes no events.*remove --out/ });
  await t.throwsAsync(cli(['toy', '--calibrate']), { message: /flowscan simulate lhco --calibrate/ });
  await t.throwsAsync(cli(['lhco', '--point', '3000,2000,1500', '--out', out]), { message: /m_X \+ m_Y < m_Z′/ });
  await t.throwsAsync(cli(['lhco', '--calibrate', '--data-dir', join(dir, 'none')]), { message: /real LHCO R&D events not found.*--data-dir/ });
});

test.serial('--help lists the options, the columns and runnable examples', (t) => {
  const program = new Command('flowscan');
  register(program);
  let help = '';
  program.commands[0].configureOutput({ writeOut: (text) => (help += text) });
  program.commands[0].outputHelp();
  t.regex(help, /--exclude-mzprime <list>/);
  t.regex(help, /Examples:\n {2}flowscan simulate toy --out data\/toy-signal\.csv/);
  t.regex(help, /lhco signal {6}mj1, dmj, mj2, tau21j1, tau21j2, mjj, m_zprime, m_x, m_y/);
});
