// Browser entry of the flowscan page (bundled as app.js; the fit worker is bundled as worker.js): start the
// worker and hand over to the page. Paths are relative to the page, so the built folder can live under any URL.
import { Page } from './page.ts';

/** Where the server puts the fit worker, onnxruntime-web's .wasm/.mjs files and the model folders, relative to the page. */
export const WORKER_SCRIPT = 'worker.js';
export const WASM_FOLDER = 'ort/';
export const MODELS_FOLDER = 'models/';

async function main(): Promise<void> {
  const at = (path: string) => new URL(path, document.baseURI);
  await new Page(at(WORKER_SCRIPT), at(WASM_FOLDER), at(MODELS_FOLDER)).start();
}

main().catch((error: unknown) => {
  document.body.dataset.state = 'error';
  const box = document.getElementById('error');
  const message = document.getElementById('error-message');
  if (box && message) {
    document.getElementById('error-title')!.textContent = 'The page could not start';
    message.textContent = (error as Error).message ?? String(error);
    box.hidden = false;
  }
});
