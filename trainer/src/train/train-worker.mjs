// Worker-thread entry of a parallel training: the TypeScript loader first, then the worker itself.
import { register } from 'tsx/esm/api';

register();
await import('./train-worker.ts');
