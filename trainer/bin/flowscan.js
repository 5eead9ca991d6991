#!/usr/bin/env node
// Entry point of the `flowscan` command. From the JavaScript build (trainer/dist, `npm run build`) when the
// sources or tsx are absent (an install without dev dependencies) or FLOWSCAN_BUILT=1; otherwise from the
// TypeScript sources through tsx, so a development checkout always runs what is in src/.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

function tsxInstalled() {
  try {
    import.meta.resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

const sources = new URL('../src/cli/main.ts', import.meta.url);
if (process.env.FLOWSCAN_BUILT !== '1' && existsSync(sources) && tsxInstalled()) {
  register('./source-conditions.mjs', import.meta.url);
  const tsx = await import('tsx/esm/api');
  tsx.register();
  await import(sources.href);
} else {
  const built = new URL('../dist/cli/main.js', import.meta.url);
  if (!existsSync(built)) {
    process.stderr.write(`flowscan: ${built.pathname} is missing: run \`npm run build\` first (or install the dev dependencies to run from the sources).\n`);
    process.exit(1);
  }
  await import(built.href);
}
