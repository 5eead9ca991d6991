// The page's behaviour: pick models (served or from disk), get events (a CSV, NumPy or Parquet file read by the
// runtime's event-source layer, or pseudo-data sampled by the flows),
// fit, and show the fit table, the ΔNLL map with gradient arrows and the data with the fitted model. The flows,
// the likelihood and the fits live in the fit worker (worker.ts), so the page answers the user while they run.
// Every user action reports failures in the error box and leaves the page usable.
import { blobSource } from '../data/byte-source.ts';
import { formatEventsCsv } from '../data/csv.ts';
import { type EventFormat, type PlatformReaders, eventFormatOf, readEvents } from '../data/events.ts';
import type { FitResult } from '../likelihood/fit.ts';
import { yieldName } from '../likelihood/mixture.ts';
import type { ManifestVariable } from '../model/manifest.ts';
import type { FitMap } from '../likelihood/map.ts';
import { COMPONENTS, type ComponentName, type EventTable, type FitSettings, PAPER_TOY, backgroundRenames, middleOfRange } from './analysis.ts';
import { element, formatValue, inPageTerms, label, numberField, option, radioValue, readNumber } from './dom.ts';
import type { EnvironmentInfo, ProviderChoice } from './engine.ts';
import { FitCancelled, type LoadedModels, type ModelSpec, type Progress } from './protocol.ts';
import { PREDICTION_SAMPLES, drawFigures, showFit } from './results.ts';
import { type PickedFolder, pickedModelFolders } from './sources.ts';
import { FitWorker } from './worker-client.ts';

/**
 * Why the page reads no HDF5 or ROOT files: h5wasm's browser build is 4 MB, which the page's single bundle would
 * load on every visit (it has no lazily loaded chunks), and it copies the whole file into its memory; jsroot's
 * I/O is ~0.7 MB minified.
 */
const PAGE_READERS: PlatformReaders = {
  unsupported: 'the page reads CSV, NumPy (.npy, .npz) and Parquet files: convert it to one of these, or fit it with flowscan scan, which reads HDF5 and ROOT too',
};

/** What the page exposes after a fit, for scripts and tests (window.__flowscanResult). */
export interface PageResult {
  fit: FitResult;
  settings: FitSettings;
  providers: Record<ComponentName, string>;
  wasmThreads: number;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  events: { count: number; source: string };
  map: FitMap | null;
  /** The duration announced before the fit started (s), and the time the fit, map and prediction took. */
  expectedSeconds: number;
  elapsedSeconds: number;
}

declare global {
  interface Window {
    __flowscanResult?: PageResult;
  }
}

/** Shipped models the page loads at start when the server has them (the toy study of the paper, §3.1). */
const DEFAULT_MODELS: Record<ComponentName, string> = { signal: 'toy-signal', background: 'toy-background' };

/** body[data-state]: what the page is doing, for the user's scripts and the tests. */
type PageState = 'starting' | 'ready' | 'loading-models' | 'reading-folders' | 'reading-events' | 'generating' | 'writing-events' | 'fitting' | 'fitted' | 'cancelled' | 'error';

/** The models in the worker, how they were chosen, and which list entries name them. */
interface CurrentModels extends LoadedModels {
  choice: ProviderChoice;
  sources: Record<ComponentName, ModelSpec>;
  selected: Record<ComponentName, string>;
}

export class Page {
  private readonly worker: FitWorker;
  private env: EnvironmentInfo | null = null;
  private served: string[] = [];
  private picked: PickedFolder[] = [];
  private current: CurrentModels | null = null;
  private events: EventTable | null = null;
  private busy = false;

  constructor(
    workerUrl: URL,
    private readonly wasmBase: URL,
    private readonly modelsBase: URL,
  ) {
    // A worker replaced after Cancel comes back with onnxruntime started and the current models loaded.
    this.worker = new FitWorker(() => new Worker(workerUrl, { type: 'module' }), workerUrl.pathname, async (send) => {
      await send('start', { wasmBase: this.wasmBase.href });
      if (this.current) await send('load-models', { choice: this.current.choice, sources: this.current.sources });
    });
  }

  async start(): Promise<void> {
    this.env = await this.worker.call('start', { wasmBase: this.wasmBase.href });
    this.showRuntime(this.env);
    this.bind();
    this.setSignalFraction(PAPER_TOY.counts.signal / (PAPER_TOY.counts.signal + PAPER_TOY.counts.background));
    try {
      this.served = await this.servedModels();
    } catch (error) {
      this.served = [];
      element('models-info').textContent = `${(error as Error).message}\nAdd model folders from your disk instead.`;
    }
    this.fillModelSelects();
    const haveDefaults = COMPONENTS.every((c) => this.served.includes(DEFAULT_MODELS[c]));
    if (haveDefaults) await this.action('Loading the models failed', 'loading-models', () => this.loadModels());
    else this.setState('ready');
  }

  private setState(state: PageState): void {
    document.body.dataset.state = state;
  }

  private showRuntime(e: EnvironmentInfo): void {
    const lines = [
      e.crossOriginIsolated
        ? `Cross-origin isolated: WASM may use ${e.requestedThreads} threads (${e.hardwareConcurrency} logical cores).`
        : 'NOT cross-origin isolated: WASM runs on 1 thread. Serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp.',
      !e.webgpu.available
        ? `WebGPU unavailable: ${e.webgpu.detail}; models run on WASM.`
        : e.webgpu.fallback
          ? `WebGPU adapter: ${e.webgpu.detail}; “auto” runs on WASM, which is faster than a software GPU (choose WebGPU to use it anyway).`
          : `WebGPU adapter: ${e.webgpu.detail}.`,
      'Fits run in a background worker: the page stays responsive and Cancel stops them at once.',
    ];
    element('runtime-info').textContent = lines.join('\n');
  }

  private bind(): void {
    element('error-dismiss').addEventListener('click', () => this.clearError());
    element('load-models').addEventListener('click', () => void this.action('Loading the models failed', 'loading-models', () => this.loadModels()));
    element<HTMLInputElement>('model-folder').addEventListener('change', (event) => void this.action('Reading the picked folders failed', 'reading-folders', async () => this.addPicked((event.target as HTMLInputElement).files)));
    const eventsFile = element<HTMLInputElement>('events-file');
    // Picking the same file again (after fixing it) must fire another change event.
    eventsFile.addEventListener('click', () => (eventsFile.value = ''));
    eventsFile.addEventListener('change', () => void this.action('Reading the event file failed', 'reading-events', () => this.readEventFile(eventsFile)));
    element('generate').addEventListener('click', () => void this.action('Generating pseudo-data failed', 'generating', () => this.generate()));
    element('download-events').addEventListener('click', () => void this.action('Writing the events failed', 'writing-events', async () => this.downloadEvents()));
    element('run-fit').addEventListener('click', () => void this.action('The fit failed', 'fitting', () => this.runFit()));
    element('cancel-fit').addEventListener('click', () => {
      element('fit-status').textContent = 'Cancelling…';
      this.worker.cancel();
    });
    for (const radio of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="data-kind"]'))) {
      radio.addEventListener('change', () => {
        const generate = radioValue('data-kind') === 'generate';
        element('csv-inputs').hidden = generate;
        element('generate-inputs').hidden = !generate;
      });
    }
    for (const radio of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="yields"]'))) {
      radio.addEventListener('change', () => this.fillMapSelects());
    }
  }

  /** Runs a user action: one at a time, failures in the error box, the page usable afterwards. */
  private async action(title: string, state: PageState, work: () => Promise<void>): Promise<void> {
    if (this.busy) {
      this.showError(title, 'another action is still running; wait for it or press Cancel.');
      return;
    }
    this.busy = true;
    this.clearError();
    this.setState(state);
    this.setButtons(false);
    try {
      await work();
      this.setState(state === 'fitting' ? 'fitted' : 'ready');
    } catch (error) {
      if (error instanceof FitCancelled) {
        this.setState('cancelled');
        element('fit-status').textContent = 'Cancelled.';
      } else {
        this.showError(title, inPageTerms((error as Error).message));
        this.setState('error');
      }
    } finally {
      this.busy = false;
      this.setButtons(true);
    }
  }

  private setButtons(enabled: boolean): void {
    for (const id of ['load-models', 'generate', 'run-fit', 'model-folder', 'events-file']) element<HTMLButtonElement>(id).disabled = !enabled;
    element<HTMLButtonElement>('download-events').disabled = !enabled || !this.events?.truth;
    element<HTMLButtonElement>('cancel-fit').disabled = enabled;
  }

  private showError(title: string, message: string): void {
    element('error-title').textContent = title;
    element('error-message').textContent = message;
    element('error').hidden = false;
  }

  private clearError(): void {
    element('error').hidden = true;
    element('error-title').textContent = '';
    element('error-message').textContent = '';
  }

  // ---- models ----

  private async servedModels(): Promise<string[]> {
    const url = new URL('index.json', this.modelsBase);
    let response: Response;
    try {
      response = await fetch(url, { cache: 'no-cache' });
    } catch (error) {
      throw new Error(`the list of served models (${url.href}) cannot be fetched: ${(error as Error).message}.`);
    }
    if (!response.ok) throw new Error(`the server offers no models (${url.href}: HTTP ${response.status}).`);
    const list = (await response.json()) as { models?: unknown };
    if (!Array.isArray(list.models) || list.models.some((m) => typeof m !== 'string')) {
      throw new Error(`${url.href} should hold {"models": [folder names]}, got ${JSON.stringify(list).slice(0, 200)}.`);
    }
    return list.models as string[];
  }

  private fillModelSelects(): void {
    for (const c of COMPONENTS) {
      const select = element<HTMLSelectElement>(`${c}-model`);
      const previous = select.value;
      select.replaceChildren(
        ...this.served.map((name) => option(`served:${name}`, name)),
        ...this.picked.map((folder, i) => option(`picked:${i}`, `${folder.location} (from disk)`)),
      );
      const wanted = [previous, `served:${DEFAULT_MODELS[c]}`].find((v) => Array.from(select.options).some((o) => o.value === v));
      if (wanted) select.value = wanted;
    }
  }

  private addPicked(files: FileList | null): void {
    if (!files || files.length === 0) return;
    const folders = pickedModelFolders(files);
    const first = this.picked.length;
    this.picked.push(...folders);
    this.fillModelSelects();
    // A picked folder whose name says which component it is goes straight into that list.
    folders.forEach((folder, k) => {
      const name = folder.location.toLowerCase();
      for (const c of COMPONENTS) if (name.includes(c)) element<HTMLSelectElement>(`${c}-model`).value = `picked:${first + k}`;
    });
    element('models-info').textContent = `Added ${folders.map((f) => f.location).join(', ')} from disk: choose them above and press “Load models”.`;
  }

  private specFor(c: ComponentName): ModelSpec {
    const value = element<HTMLSelectElement>(`${c}-model`).value;
    if (!value) throw new Error(`no ${c} model is chosen: the server offers none, so add an exported model folder from your disk (“Add exported model folders”).`);
    const [kind, id] = [value.slice(0, value.indexOf(':')), value.slice(value.indexOf(':') + 1)];
    if (kind === 'served') return { kind: 'url', url: new URL(`${encodeURIComponent(id)}/`, this.modelsBase).href };
    const folder = this.picked[Number(id)];
    return { kind: 'files', location: folder.location, files: folder.files };
  }

  private async loadModels(): Promise<void> {
    const choice = element<HTMLSelectElement>('provider').value as ProviderChoice;
    const selected = Object.fromEntries(COMPONENTS.map((c) => [c, element<HTMLSelectElement>(`${c}-model`).value])) as Record<ComponentName, string>;
    element('models-info').textContent = 'Loading…';
    try {
      const sources = Object.fromEntries(COMPONENTS.map((c) => [c, this.specFor(c)])) as Record<ComponentName, ModelSpec>;
      this.current = { ...(await this.worker.call('load-models', { choice, sources })), choice, sources, selected };
    } catch (error) {
      // The lists go back to the models still loaded, so that what they show is what a fit uses.
      if (this.current) for (const c of COMPONENTS) element<HTMLSelectElement>(`${c}-model`).value = this.current.selected[c];
      element('models-info').textContent = this.current ? `Still using the models loaded before:\n${this.describeModels(this.current)}` : 'No models loaded.';
      throw error;
    }
    element('models-info').textContent = this.describeModels(this.current);
    this.fillParameterInputs(this.current);
  }

  private providerText(provider: string): string {
    const threads = this.current?.wasmThreads ?? 1;
    return provider === 'webgpu' ? `WebGPU (${this.env?.webgpu.detail})` : `WASM, ${threads} thread${threads === 1 ? '' : 's'}`;
  }

  private describeModels(current: CurrentModels): string {
    const lines = COMPONENTS.map((c) => {
      const { manifest, name, location, provider, skipped } = current.models[c];
      const theta = manifest.parameters.map((p) => `${p.name} ∈ [${formatValue(p.range[0], 4)}, ${formatValue(p.range[1], 4)}]${p.unit ? ` ${p.unit}` : ''}`).join(', ');
      const features = manifest.features.map(label).join(', ');
      const fallback = skipped.length ? ` (${skipped.map((s) => s.split(':')[0]).join(', ')} could not run it)` : '';
      return `${c}: ${name} from ${location} — features ${features}; θ: ${theta || 'none'}; ${manifest.flow.kind}, trained ${manifest.provenance.epochs} epochs. Provider: ${this.providerText(provider)}${fallback}.`;
    });
    return lines.join('\n');
  }

  /** Inputs that depend on the models: θ for pseudo-data, start values, map axes, histogram feature. */
  private fillParameterInputs(current: CurrentModels): void {
    const rename = backgroundRenames(current.models);
    const thetaBox = element('theta-inputs');
    const startBox = element('start-inputs');
    thetaBox.replaceChildren();
    startBox.replaceChildren();
    for (const c of COMPONENTS) {
      for (const p of current.models[c].manifest.parameters) {
        const name = c === 'background' ? (rename[p.name] ?? p.name) : p.name;
        const range = `training range [${p.range.join(', ')}]`;
        const truth = PAPER_TOY.values[p.name] !== undefined && current.models[c].name === DEFAULT_MODELS[c] ? PAPER_TOY.values[p.name] : middleOfRange(p);
        thetaBox.append(numberField(`theta-${name}`, `${label({ name, unit: p.unit })} =`, truth, range));
        startBox.append(numberField(`start-${name}`, `${label({ name, unit: p.unit })}`, Number(middleOfRange(p).toPrecision(3)), range));
      }
    }
    element<HTMLSelectElement>('hist-feature').replaceChildren(...current.models.signal.manifest.features.map((f) => option(f.name, label(f))));
    this.fillMapSelects();
  }

  private likelihoodParameters(): ManifestVariable[] {
    if (!this.current) return [];
    const { models } = this.current;
    const rename = backgroundRenames(models);
    return [...models.signal.manifest.parameters, ...models.background.manifest.parameters.map((p) => ({ ...p, name: rename[p.name] ?? p.name }))];
  }

  private fillMapSelects(): void {
    const names = this.likelihoodParameters().map((p) => p.name);
    if (radioValue('yields') === 'extended') names.push(...COMPONENTS.map(yieldName));
    ['map-x', 'map-y'].forEach((id, axis) => {
      const select = element<HTMLSelectElement>(id);
      const previous = select.value;
      select.replaceChildren(...names.map((n) => option(n, n)));
      select.value = names.includes(previous) ? previous : (names[axis] ?? names[0] ?? '');
    });
  }

  // ---- events ----

  private requireModels(what: string): CurrentModels {
    if (!this.current) throw new Error(`load the models first (“Load models” in 1. Models): ${what}`);
    return this.current;
  }

  private async readEventFile(input: HTMLInputElement): Promise<void> {
    const file = input.files?.[0];
    if (!file) return;
    try {
      const { models } = this.requireModels('the event file must have one column per model feature.');
      const format = eventFormatOf(file.name);
      const columns = [...new Set(COMPONENTS.flatMap((c) => models[c].featureNames))];
      const skipBadRows = element<HTMLInputElement>('skip-bad-rows').checked;
      const names = this.arrayColumnNames(format);
      // NumPy and Parquet files are read range by range (a block of .npy rows, a Parquet row group), not copied whole.
      const parsed = await readEvents(blobSource(file.name, file), { columns, skipBadRows, ...(names ? { names } : {}) }, PAGE_READERS);
      this.setEvents({ columns: parsed.columns, count: parsed.rows, source: file.name });
      // The composition of the user's events is unknown: the fraction of the last pseudo-data (or the paper's) must not stay.
      this.setSignalFraction(null);
      const info = element('data-info');
      if (parsed.skippedCount > 0) {
        // CSV problems are counted in lines of the text, the binary formats' in rows from 0.
        const where = format === 'csv' ? (n: number) => `line ${n}` : (n: number) => `row ${n} (counting from 0)`;
        const listed = parsed.skipped.map((s) => `${where(s.line)}: ${s.reason}`).join('\n');
        const more = parsed.skippedCount > parsed.skipped.length ? `\n… and ${parsed.skippedCount - parsed.skipped.length} more` : '';
        info.textContent += `\nSkipped ${parsed.skippedCount} row${parsed.skippedCount === 1 ? '' : 's'} that could not be read:\n${listed}${more}`;
      }
      info.textContent += '\nThe signal fraction of these events is unknown: enter it under 3. Fit, or choose “Extended” to fit the yields.';
    } catch (error) {
      // The file input shows only a file that was read; the events (if any) are still the earlier ones.
      input.value = '';
      throw error;
    }
  }

  /** The names typed for the columns of an unlabelled NumPy array; null when none are typed or the file is not NumPy. */
  private arrayColumnNames(format: EventFormat): string[] | null {
    const text = element<HTMLInputElement>('array-names').value.trim();
    if (text === '' || (format !== 'npy' && format !== 'npz')) return null;
    const names = text.split(',').map((name) => name.trim());
    if (names.some((name) => name === '')) throw new Error(`“Array column names” (2. Observed events) must be names separated by commas, e.g. "x" or "mjj, mj1", got "${text}".`);
    return names;
  }

  private async generate(): Promise<void> {
    const { models } = this.requireModels('the pseudo-data are sampled from them.');
    // Inputs carry the likelihood's names; each sampler graph takes its model's own names.
    const rename = backgroundRenames(models);
    const theta = Object.fromEntries(
      COMPONENTS.map((c) => [
        c,
        Object.fromEntries(
          models[c].manifest.parameters.map((p) => {
            const name = c === 'background' ? (rename[p.name] ?? p.name) : p.name;
            return [p.name, readNumber(element(`theta-${name}`), `“${name} =” of the pseudo-data (2. Observed events)`)];
          }),
        ),
      ]),
    ) as Record<ComponentName, Record<string, number>>;
    const counts = {
      signal: readNumber(element('n-signal'), '“Signal events” (2. Observed events)', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'),
      background: readNumber(element('n-background'), '“Background events” (2. Observed events)', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'),
    };
    const seed = readNumber(element('data-seed'), '“Seed” (2. Observed events)', Number.isSafeInteger, 'an integer');
    const info = element('data-info');
    const before = info.textContent;
    info.textContent = 'Sampling…';
    try {
      this.setEvents(await this.worker.call('generate', { theta, counts, seed }));
    } catch (error) {
      info.textContent = before;
      throw error;
    }
    if (counts.signal + counts.background > 0) this.setSignalFraction(counts.signal / (counts.signal + counts.background));
  }

  /** The fixed signal fraction of the fit: known for pseudo-data, to be entered for the user's events (null). */
  private setSignalFraction(f: number | null): void {
    const input = element<HTMLInputElement>('signal-fraction');
    input.value = f === null ? '' : String(f);
    input.placeholder = f === null ? 'enter for your events' : '';
  }

  private setEvents(events: EventTable): void {
    this.events = events;
    const composition = events.composition ? ` (${events.composition.signal} signal + ${events.composition.background} background; signal fraction set to match)` : '';
    const yields = COMPONENTS.map(yieldName);
    const theta = Object.entries(events.truth ?? {}).filter(([name]) => !yields.includes(name));
    const truth = events.truth ? `\nGenerated at ${theta.map(([k, v]) => `${k} = ${v}`).join(', ')}.` : '';
    element('data-info').textContent = `${events.count} events from ${events.source}${composition}.${truth}`;
    element<HTMLButtonElement>('download-events').disabled = !events.truth;
  }

  private downloadEvents(): void {
    if (!this.events) throw new Error('there are no events to write yet: generate pseudo-data first.');
    const order = Object.keys(this.events.columns);
    const blob = new Blob([formatEventsCsv(this.events.columns, order)], { type: 'text/csv' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = 'pseudo-data.csv';
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  // ---- fit ----

  private readSettings(): FitSettings {
    const yields = radioValue('yields') as FitSettings['yields'];
    const start: Record<string, number> = {};
    for (const p of this.likelihoodParameters()) start[p.name] = readNumber(element(`start-${p.name}`), `The start value of ${p.name} (“Start”, 3. Fit)`);
    const fraction = element<HTMLInputElement>('signal-fraction');
    return {
      yields,
      signalFraction:
        yields === 'fixed-fractions'
          ? readNumber(fraction, '“Signal fraction” (3. Fit)', (v) => v >= 0 && v <= 1, fraction.value.trim() === '' ? 'entered for these events (a number in [0, 1]), or choose “Extended”' : 'a number in [0, 1]')
          : 0,
      start,
      starts: readNumber(element('starts'), '“Starts” (3. Fit)', (v) => Number.isInteger(v) && v >= 1 && v <= 64, 'an integer in [1, 64]'),
      seed: readNumber(element('fit-seed'), '“Fit seed” (3. Fit)', Number.isSafeInteger, 'an integer'),
      maxEvaluations: readNumber(element('max-evaluations'), '“Evaluations per start” (3. Fit)', (v) => Number.isInteger(v) && v >= 1 && v <= 1000, 'an integer in [1, 1000]'),
      significance: element<HTMLInputElement>('significance').checked,
      outsideSupport: element<HTMLSelectElement>('outside-support').value as FitSettings['outsideSupport'],
    };
  }

  private progress(p: Progress): void {
    const bar = element<HTMLProgressElement>('fit-progress');
    bar.hidden = false;
    if (p.done === undefined) bar.removeAttribute('value');
    else {
      bar.max = p.total ?? 1;
      bar.value = p.done;
    }
    if (p.expectedSeconds !== undefined) element('fit-expected').textContent = p.text;
    else element('fit-status').textContent = p.text;
  }

  private async runFit(): Promise<void> {
    const current = this.requireModels('the likelihood is built from them.');
    if (!this.events) throw new Error('there are no observed events: pick an event file or generate pseudo-data first (2. Observed events).');
    const settings = this.readSettings();
    const mapWanted = element<HTMLInputElement>('map-enabled').checked;
    const mapX = element<HTMLSelectElement>('map-x').value;
    const mapY = element<HTMLSelectElement>('map-y').value;
    const mapPoints = readNumber(element('map-points'), '“points per axis” of the ΔNLL map (3. Fit)', (v) => Number.isInteger(v) && v >= 2 && v <= 101, 'an integer in [2, 101]');
    const bins = readNumber(element('hist-bins'), '“bins” of the histogram (3. Fit)', (v) => Number.isInteger(v) && v >= 2 && v <= 500, 'an integer in [2, 500]');
    const feature = element<HTMLSelectElement>('hist-feature').value;
    if (mapWanted && mapX === mapY) throw new Error(`the ΔNLL map needs two different parameters, both are ${mapX}: choose another one, or untick “ΔNLL map of”.`);
    const parameters = this.likelihoodParameters();
    const map = mapWanted && parameters.length + (settings.yields === 'extended' ? COMPONENTS.length : 0) >= 2 ? { x: mapX, y: mapY, points: mapPoints } : null;
    const events = this.events;
    window.__flowscanResult = undefined;
    element('results-section').hidden = true;
    element('fit-expected').textContent = '';
    const t0 = performance.now();
    try {
      const outcome = await this.worker.call(
        'fit',
        { events: { columns: events.columns, count: events.count, source: events.source }, settings, map, prediction: { samples: PREDICTION_SAMPLES, seed: settings.seed } },
        (p) => this.progress(p),
      );
      const providers = Object.fromEntries(COMPONENTS.map((c) => [c, current.models[c].provider])) as Record<ComponentName, string>;
      showFit(outcome.fit, settings, events, Object.fromEntries(COMPONENTS.map((c) => [c, this.providerText(providers[c])])) as Record<ComponentName, string>);
      this.progress({ text: 'Drawing the figures…' });
      await drawFigures(events, outcome.map, outcome.prediction, { feature, bins }, {
        parameters: outcome.fit.parameters,
        features: { signal: current.models.signal.manifest.features, background: current.models.background.manifest.features },
      });
      const elapsedSeconds = (performance.now() - t0) / 1000;
      window.__flowscanResult = {
        fit: outcome.fit,
        settings,
        providers,
        wasmThreads: current.wasmThreads,
        crossOriginIsolated: this.env?.crossOriginIsolated ?? false,
        hardwareConcurrency: this.env?.hardwareConcurrency ?? 1,
        events: { count: events.count, source: events.source },
        map: outcome.map,
        expectedSeconds: outcome.expectedSeconds,
        elapsedSeconds,
      };
      this.progress({ text: `Done in ${elapsedSeconds.toFixed(1)} s (expected at most about ${Math.ceil(outcome.expectedSeconds)} s).`, done: 1, total: 1 });
    } catch (error) {
      // The status must not keep describing a stage that is over.
      if (!(error instanceof FitCancelled)) {
        element<HTMLProgressElement>('fit-progress').hidden = true;
        element('fit-status').textContent = 'The fit failed: see the message at the top.';
      }
      throw error;
    }
  }
}
