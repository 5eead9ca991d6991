// Worker-thread entry of a parallel training run from the sources: the TypeScript loader and the source
// conditions (as trainer/bin/flowscan.js sets them), then the worker itself. The build runs train-worker.js.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

register('../../bin/source-conditions.mjs', import.meta.url);
registerTsx();
await import('./train-worker.ts');
