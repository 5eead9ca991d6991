// Browser entry of the flowscan page (bundled by runtime/src/node/web-server.ts): configure onnxruntime-web,
// then hand over to the page. Paths are relative to the page, so the built folder can live under any URL.
import { configureOrt } from './engine.ts';
import { Page } from './page.ts';

/** Where the server puts onnxruntime-web's .wasm/.mjs files and the model folders, relative to the page. */
export const WASM_FOLDER = 'ort/';
export const MODELS_FOLDER = 'models/';

async function main(): Promise<void> {
  const env = await configureOrt(WASM_FOLDER);
  await new Page(env, MODELS_FOLDER).start();
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
