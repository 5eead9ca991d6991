// The list of subcommands. Each module exports `register(program)` adding one subcommand with its --help.
import type { Command } from 'commander';
import { register as registerAnomaly } from './anomaly.ts';
import { register as registerClassify } from './classify.ts';
import { register as registerCompare } from './compare.ts';
import { register as registerExport } from './export.ts';
import { register as registerGenerate } from './generate.ts';
import { register as registerHist } from './hist.ts';
import { register as registerMerge } from './merge.ts';
import { register as registerScan } from './scan.ts';
import { register as registerSimulate } from './simulate.ts';
import { register as registerStudy } from './study.ts';
import { register as registerToys } from './toys.ts';
import { register as registerTrain } from './train.ts';
import { register as registerValidate } from './validate.ts';
import { register as registerWeb } from './web.ts';

export function registerCommands(program: Command): void {
  registerSimulate(program);
  registerTrain(program);
  registerExport(program);
  registerScan(program);
  registerGenerate(program);
  registerCompare(program);
  registerStudy(program);
  registerToys(program);
  registerValidate(program);
  registerWeb(program);
  registerMerge(program);
  registerHist(program);
  registerClassify(program);
  registerAnomaly(program);
}
