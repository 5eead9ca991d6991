// TensorFlow.js backend selection: native (tfjs-node, optional: it downloads libtensorflow at install and is
// absent where that fails), then WebAssembly, then plain JavaScript. The backend that ran is reported and
// recorded in the model's provenance.
import * as tf from '@tensorflow/tfjs-core';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

async function tryBackend(name: 'tensorflow' | 'wasm' | 'cpu'): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      // A string specifier keeps bundlers and the type checker away from the optional native package.
      const specifier = '@tensorflow/tfjs-node';
      await import(specifier);
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    } else {
      await import('@tensorflow/tfjs-backend-cpu');
    }
    if (!(await tf.setBackend(name))) return `tf.setBackend('${name}') returned false`;
    await tf.ready();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0] : String(error);
  }
}

/** Selects and initialises a backend; returns its name and why the preferred ones were skipped. */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<{ backend: string; skipped: string[] }> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new Error(`unknown backend "${String(choice)}": expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  const order: ('tensorflow' | 'wasm' | 'cpu')[] = choice === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [choice];
  const skipped: string[] = [];
  for (const name of order) {
    if (tf.getBackend() === name) return { backend: name, skipped };
    const failure = await tryBackend(name);
    if (failure === null) return { backend: name, skipped };
    skipped.push(`${name}: ${failure}`);
  }
  throw new Error(`no TensorFlow.js backend could start (${skipped.join('; ')})`);
}
