// The page's behaviour: pick models (served or from disk), get events (CSV or pseudo-data sampled here),
// fit, and show the fit table, the ΔNLL map with gradient arrows and the data with the fitted model.
// Every user action reports failures in the error box and leaves the page usable.
import { formatEventsCsv, parseEventsCsv } from '../data/csv.ts';
import { type FitResult, fitLikelihood } from '../likelihood/fit.ts';
import { type MixtureLikelihood, yieldName } from '../likelihood/mixture.ts';
import type { ModelSource } from '../model/flow-model.ts';
import type { ManifestVariable } from '../model/manifest.ts';
import { deltaNllMap } from '../plots/scans.ts';
import { histogramComparison, type HistogramSeries } from '../plots/histograms.ts';
import {
  COMPONENTS,
  type ComponentName,
  type DeltaNllMapData,
  type EventTable,
  type FitSettings,
  type ModelPair,
  PAPER_TOY,
  backgroundRenames,
  buildLikelihood,
  deltaNllMapAround,
  fitOptions,
  fittedPrediction,
  generatePseudoData,
  middleOfRange,
} from './analysis.ts';
import { type EnvironmentInfo, FitCancelled, type LoadedModel, type ProviderChoice, RunControl, loadFlowModel, wasmThreads } from './engine.ts';
import { clearFigure, renderFigure } from './render.ts';
import { pickedModelSources, urlSource } from './sources.ts';

/** What the page exposes after a fit, for scripts and tests (window.__flowscanResult). */
export interface PageResult {
  fit: FitResult;
  settings: FitSettings;
  providers: Record<ComponentName, string>;
  wasmThreads: number;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  events: { count: number; source: string };
  map: DeltaNllMapData | null;
}

declare global {
  interface Window {
    __flowscanResult?: PageResult;
  }
}

/** Shipped models the page loads at start when the server has them (the toy study of the paper, §3.1). */
const DEFAULT_MODELS: Record<ComponentName, string> = { signal: 'toy-signal', background: 'toy-background' };
/** Flow samples per component for the fitted-model histogram: smooth next to 10^5 observed events. */
const PREDICTION_SAMPLES = 200_000;

/** body[data-state]: what the page is doing, for the user's scripts and the tests. */
type PageState = 'starting' | 'ready' | 'loading-models' | 'reading-folders' | 'reading-events' | 'generating' | 'writing-events' | 'fitting' | 'fitted' | 'cancelled' | 'error';

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no element #${id}: index.html and page.ts disagree`);
  return found as T;
}

function radioValue(name: string): string {
  return (document.querySelector(`input[name="${name}"]:checked`) as HTMLInputElement).value;
}

/** A number typed by the user, read strictly: the field's label appears in the message. */
function readNumber(input: HTMLInputElement, label: string, check?: (v: number) => boolean, expected = 'a finite number'): number {
  const text = input.value.trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || (check && !check(value))) {
    input.focus();
    throw new Error(`${label} must be ${expected}, got "${input.value}".`);
  }
  return value;
}

function formatValue(v: number | undefined, digits = 5): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(digits - 1) : Number(v.toPrecision(digits)).toString();
}

function label(p: { name: string; unit: string }): string {
  return p.unit ? `${p.name} [${p.unit}]` : p.name;
}

function option(value: string, text: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

function numberField(id: string, text: string, value: number, title: string): HTMLLabelElement {
  const wrapper = document.createElement('label');
  wrapper.append(`${text} `);
  const input = document.createElement('input');
  input.type = 'text';
  input.inputMode = 'decimal';
  input.id = id;
  input.value = String(value);
  input.title = title;
  wrapper.append(input);
  return wrapper;
}

export class Page {
  private readonly control = new RunControl();
  private served: string[] = [];
  private picked: ModelSource[] = [];
  private models: ModelPair | null = null;
  private loaded: Record<ComponentName, LoadedModel> | null = null;
  private events: EventTable | null = null;
  private busy = false;

  constructor(
    private readonly env: EnvironmentInfo,
    private readonly modelsBase: string,
  ) {}

  async start(): Promise<void> {
    this.showRuntime();
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

  private showRuntime(): void {
    const e = this.env;
    const lines = [
      e.crossOriginIsolated
        ? `Cross-origin isolated: WASM may use ${e.requestedThreads} threads (${e.hardwareConcurrency} logical cores).`
        : 'NOT cross-origin isolated: WASM runs on 1 thread. Serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp.',
      !e.webgpu.available
        ? `WebGPU unavailable: ${e.webgpu.detail}; models run on WASM.`
        : e.webgpu.fallback
          ? `WebGPU adapter: ${e.webgpu.detail}; “auto” runs on WASM, which is faster than a software GPU (choose WebGPU to use it anyway).`
          : `WebGPU adapter: ${e.webgpu.detail}.`,
    ];
    element('runtime-info').textContent = lines.join('\n');
  }

  private bind(): void {
    element('error-dismiss').addEventListener('click', () => this.clearError());
    element('load-models').addEventListener('click', () => void this.action('Loading the models failed', 'loading-models', () => this.loadModels()));
    element<HTMLInputElement>('model-folder').addEventListener('change', (event) => void this.action('Reading the picked folders failed', 'reading-folders', async () => this.addPicked((event.target as HTMLInputElement).files)));
    element<HTMLInputElement>('events-file').addEventListener('change', (event) => {
      const input = event.target as HTMLInputElement;
      void this.action('Reading the event file failed', 'reading-events', () => this.readCsv(input));
    });
    element('generate').addEventListener('click', () => void this.action('Generating pseudo-data failed', 'generating', () => this.generate()));
    element('download-events').addEventListener('click', () => void this.action('Writing the events failed', 'writing-events', async () => this.downloadEvents()));
    element('run-fit').addEventListener('click', () => void this.action('The fit failed', 'fitting', () => this.runFit()));
    element('cancel-fit').addEventListener('click', () => this.control.cancel());
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
      this.showError(title, 'another action is still running; wait for it or cancel it.');
      return;
    }
    this.busy = true;
    this.control.reset();
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
        this.showError(title, (error as Error).message);
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
    const url = new URL('index.json', new URL(this.modelsBase, document.baseURI));
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
        ...this.picked.map((source, i) => option(`picked:${i}`, `${source.location} (from disk)`)),
      );
      const wanted = [previous, `served:${DEFAULT_MODELS[c]}`].find((v) => Array.from(select.options).some((o) => o.value === v));
      if (wanted) select.value = wanted;
    }
  }

  private addPicked(files: FileList | null): void {
    if (!files || files.length === 0) return;
    const sources = pickedModelSources(files);
    const first = this.picked.length;
    this.picked.push(...sources);
    this.fillModelSelects();
    // A picked folder whose name says which component it is goes straight into that list.
    sources.forEach((source, k) => {
      const name = source.location.toLowerCase();
      for (const c of COMPONENTS) if (name.includes(c)) element<HTMLSelectElement>(`${c}-model`).value = `picked:${first + k}`;
    });
    element('models-info').textContent = `Added ${sources.map((s) => s.location).join(', ')} from disk: choose them above and press “Load models”.`;
  }

  private sourceFor(c: ComponentName): ModelSource {
    const value = element<HTMLSelectElement>(`${c}-model`).value;
    if (!value) throw new Error(`no ${c} model is chosen: the server offers none, so add an exported model folder from your disk.`);
    const [kind, id] = [value.slice(0, value.indexOf(':')), value.slice(value.indexOf(':') + 1)];
    return kind === 'served' ? urlSource(new URL(`${encodeURIComponent(id)}/`, new URL(this.modelsBase, document.baseURI)).href) : this.picked[Number(id)];
  }

  private async loadModels(): Promise<void> {
    const choice = element<HTMLSelectElement>('provider').value as ProviderChoice;
    element('models-info').textContent = 'Loading…';
    const fresh: Partial<Record<ComponentName, LoadedModel>> = {};
    try {
      for (const c of COMPONENTS) fresh[c] = await loadFlowModel(this.sourceFor(c), choice, this.env, this.control);
    } catch (error) {
      for (const m of Object.values(fresh)) await m.model.release();
      element('models-info').textContent = this.models ? `Still using the models loaded before:\n${this.describeModels()}` : 'No models loaded.';
      throw error;
    }
    if (this.models) for (const c of COMPONENTS) await this.models[c].release();
    this.loaded = fresh as Record<ComponentName, LoadedModel>;
    this.models = { signal: this.loaded.signal.model, background: this.loaded.background.model };
    element('models-info').textContent = this.describeModels();
    this.fillParameterInputs();
  }

  private providerText(provider: string): string {
    return provider === 'webgpu' ? `WebGPU (${this.env.webgpu.detail})` : `WASM, ${wasmThreads()} thread${wasmThreads() === 1 ? '' : 's'}`;
  }

  private describeModels(): string {
    const lines = COMPONENTS.map((c) => {
      const { model, location, provider, skipped } = this.loaded![c];
      const theta = model.manifest.parameters.map((p) => `${p.name} ∈ [${formatValue(p.range[0], 4)}, ${formatValue(p.range[1], 4)}]${p.unit ? ` ${p.unit}` : ''}`).join(', ');
      const features = model.manifest.features.map(label).join(', ');
      const fallback = skipped.length ? ` (${skipped.map((s) => s.split(':')[0]).join(', ')} could not run it)` : '';
      return `${c}: ${model.name} from ${location} — features ${features}; θ: ${theta || 'none'}; ${model.manifest.flow.kind}, trained ${model.manifest.provenance.epochs} epochs. Provider: ${this.providerText(provider)}${fallback}.`;
    });
    return lines.join('\n');
  }

  /** Inputs that depend on the models: θ for pseudo-data, start values, map axes, histogram feature. */
  private fillParameterInputs(): void {
    const models = this.models!;
    const rename = backgroundRenames(models);
    const thetaBox = element('theta-inputs');
    const startBox = element('start-inputs');
    thetaBox.replaceChildren();
    startBox.replaceChildren();
    for (const c of COMPONENTS) {
      for (const p of models[c].manifest.parameters) {
        const name = c === 'background' ? (rename[p.name] ?? p.name) : p.name;
        const range = `training range [${p.range.join(', ')}]`;
        const truth = PAPER_TOY.values[p.name] !== undefined && models[c].name === DEFAULT_MODELS[c] ? PAPER_TOY.values[p.name] : middleOfRange(p);
        thetaBox.append(numberField(`theta-${name}`, `${label({ name, unit: p.unit })} =`, truth, range));
        startBox.append(numberField(`start-${name}`, `${label({ name, unit: p.unit })}`, Number(middleOfRange(p).toPrecision(3)), range));
      }
    }
    const features = element<HTMLSelectElement>('hist-feature');
    features.replaceChildren(...models.signal.manifest.features.map((f) => option(f.name, label(f))));
    this.fillMapSelects();
  }

  private likelihoodParameters(): ManifestVariable[] {
    if (!this.models) return [];
    const rename = backgroundRenames(this.models);
    return [
      ...this.models.signal.manifest.parameters,
      ...this.models.background.manifest.parameters.map((p) => ({ ...p, name: rename[p.name] ?? p.name })),
    ];
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

  private requireModels(what: string): ModelPair {
    if (!this.models) throw new Error(`load the models first: ${what}`);
    return this.models;
  }

  private async readCsv(input: HTMLInputElement): Promise<void> {
    const file = input.files?.[0];
    if (!file) return;
    try {
      const models = this.requireModels('the event file must have one column per model feature.');
      const columns = [...new Set(COMPONENTS.flatMap((c) => models[c].featureNames))];
      const skipBadRows = element<HTMLInputElement>('skip-bad-rows').checked;
      const parsed = parseEventsCsv(await file.text(), { source: file.name, columns, skipBadRows });
      this.setEvents({ columns: parsed.columns, count: parsed.rows, source: file.name });
      if (parsed.skippedCount > 0) {
        const listed = parsed.skipped.map((s) => `line ${s.line}: ${s.reason}`).join('\n');
        const more = parsed.skippedCount > parsed.skipped.length ? `\n… and ${parsed.skippedCount - parsed.skipped.length} more` : '';
        element('data-info').textContent += `\nSkipped ${parsed.skippedCount} row${parsed.skippedCount === 1 ? '' : 's'} that could not be read:\n${listed}${more}`;
      }
    } finally {
      // Picking the same file again (after fixing it) must fire another change event.
      input.value = '';
    }
  }

  private async generate(): Promise<void> {
    const models = this.requireModels('the pseudo-data are sampled from them.');
    // Inputs carry the likelihood's names; each sampler graph takes its model's own names.
    const rename = backgroundRenames(models);
    const theta = Object.fromEntries(
      COMPONENTS.map((c) => [
        c,
        Object.fromEntries(
          models[c].manifest.parameters.map((p) => {
            const name = c === 'background' ? (rename[p.name] ?? p.name) : p.name;
            return [p.name, readNumber(element(`theta-${name}`), `${name} of the pseudo-data`)];
          }),
        ),
      ]),
    ) as Record<ComponentName, Record<string, number>>;
    const counts = {
      signal: readNumber(element('n-signal'), 'The number of signal events', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'),
      background: readNumber(element('n-background'), 'The number of background events', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'),
    };
    const seed = readNumber(element('data-seed'), 'The seed', Number.isSafeInteger, 'an integer');
    const info = element('data-info');
    const before = info.textContent;
    info.textContent = 'Sampling…';
    try {
      this.setEvents(await generatePseudoData(models, { theta, counts, seed }));
    } catch (error) {
      info.textContent = before;
      throw error;
    }
    if (counts.signal + counts.background > 0) this.setSignalFraction(counts.signal / (counts.signal + counts.background));
  }

  private setSignalFraction(f: number): void {
    element<HTMLInputElement>('signal-fraction').value = String(f);
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
    if (!this.events) throw new Error('there are no events to write yet.');
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
    for (const p of this.likelihoodParameters()) start[p.name] = readNumber(element(`start-${p.name}`), `The start value of ${p.name}`);
    return {
      yields,
      signalFraction: yields === 'fixed-fractions' ? readNumber(element('signal-fraction'), 'The signal fraction', (v) => v >= 0 && v <= 1, 'a number in [0, 1]') : 0,
      start,
      starts: readNumber(element('starts'), 'The number of starts', (v) => Number.isInteger(v) && v >= 1 && v <= 64, 'an integer in [1, 64]'),
      seed: readNumber(element('fit-seed'), 'The fit seed', Number.isSafeInteger, 'an integer'),
      significance: element<HTMLInputElement>('significance').checked,
      outsideSupport: element<HTMLSelectElement>('outside-support').value as FitSettings['outsideSupport'],
    };
  }

  private progress(text: string, done?: number, total?: number): void {
    const bar = element<HTMLProgressElement>('fit-progress');
    bar.hidden = false;
    if (done === undefined) bar.removeAttribute('value');
    else {
      bar.max = total ?? 1;
      bar.value = done;
    }
    element('fit-status').textContent = text;
  }

  private async runFit(): Promise<void> {
    const models = this.requireModels('the likelihood is built from them.');
    if (!this.events) throw new Error('there are no observed events: pick a CSV file or generate pseudo-data first.');
    const settings = this.readSettings();
    const mapWanted = element<HTMLInputElement>('map-enabled').checked;
    const mapX = element<HTMLSelectElement>('map-x').value;
    const mapY = element<HTMLSelectElement>('map-y').value;
    const mapPoints = readNumber(element('map-points'), 'The points per axis of the map', (v) => Number.isInteger(v) && v >= 2 && v <= 101, 'an integer in [2, 101]');
    const bins = readNumber(element('hist-bins'), 'The number of histogram bins', (v) => Number.isInteger(v) && v >= 2 && v <= 500, 'an integer in [2, 500]');
    const feature = element<HTMLSelectElement>('hist-feature').value;
    if (mapWanted && mapX === mapY) throw new Error(`the ΔNLL map needs two different parameters, both are ${mapX}: choose another one, or untick the map.`);
    const events = this.events;
    window.__flowscanResult = undefined;
    element('results-section').hidden = true;
    const t0 = performance.now();
    const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
    try {
      this.progress('Building the likelihood…');
      const likelihood = buildLikelihood(models, events, settings);
      const fit = await fitLikelihood(likelihood, {
        ...fitOptions(settings, (stage, p) => {
          this.progress(`${stage}: ${p.calls} evaluations, lowest NLL ${p.lowestValue.toFixed(3)}, ${p.activeStarts} start${p.activeStarts === 1 ? '' : 's'} running — ${elapsed()}`);
        }),
        onStage: (stage) => {
          if (stage === 'fit') this.progress(`errors (Hessian)… — ${elapsed()}`);
        },
      });
      this.showFit(fit, settings, events);
      let map: DeltaNllMapData | null = null;
      if (mapWanted && likelihood.dimension >= 2) {
        map = await deltaNllMapAround(likelihood, fit, mapX, mapY, mapPoints, (done, total) => this.progress(`ΔNLL map: row ${done} of ${total} — ${elapsed()}`, done, total));
      }
      this.progress(`Sampling the fitted model… — ${elapsed()}`);
      const prediction = await fittedPrediction(models, likelihood, fit, PREDICTION_SAMPLES, settings.seed);
      window.__flowscanResult = {
        fit,
        settings,
        providers: { signal: this.loaded!.signal.provider, background: this.loaded!.background.provider },
        wasmThreads: wasmThreads(),
        crossOriginIsolated: this.env.crossOriginIsolated,
        hardwareConcurrency: this.env.hardwareConcurrency,
        events: { count: events.count, source: events.source },
        map,
      };
      await this.drawFigures(likelihood, events, map, prediction, feature, bins);
      this.progress(`Done in ${elapsed()}.`, 1, 1);
    } catch (error) {
      if (!(error instanceof FitCancelled)) element<HTMLProgressElement>('fit-progress').hidden = true;
      throw error;
    }
  }

  private showFit(fit: FitResult, settings: FitSettings, events: EventTable): void {
    const body = element('fit-table').querySelector('tbody')!;
    body.replaceChildren(
      ...fit.parameters.map((p) => {
        const row = document.createElement('tr');
        const note = p.fixed ? 'fixed' : p.atBound !== 'free' ? `at ${p.atBound} bound` : '';
        const truth = events.truth?.[p.name];
        const cells = [
          label(p),
          formatValue(p.value, 6),
          p.fixed ? '' : formatValue(p.error, 3),
          truth === undefined ? '' : formatValue(truth, 6),
          p.trainingRange ? `[${formatValue(p.trainingRange[0], 4)}, ${formatValue(p.trainingRange[1], 4)}]` : '',
          note,
        ];
        for (const text of cells) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        row.dataset.parameter = p.name;
        return row;
      }),
    );
    const providers = COMPONENTS.map((c) => `${c}: ${this.providerText(this.loaded![c].provider)}`).join('; ');
    const mode = settings.yields === 'extended' ? 'extended likelihood' : `fixed fractions (signal ${formatValue(settings.signalFraction, 6)})`;
    const lines = [
      `NLL ${fit.nll.toFixed(4)} at ${fit.data.events} events${fit.data.droppedOutsideSupport ? ` (${fit.data.droppedOutsideSupport} outside the support dropped)` : ''}, ${mode}.`,
      `${fit.converged ? 'Converged' : 'NOT converged'} (${fit.reason}); ${fit.evaluations.calls} evaluations (${fit.evaluations.points} points, ${fit.evaluations.graphRuns} graph runs) in ${(fit.wallMs / 1000).toFixed(2)} s.`,
      fit.significance ? `Local significance of the signal: Z = ${fit.significance.z.toFixed(2)} (q0 = ${fit.significance.q0.toFixed(2)}).` : '',
      fit.hessianMessage ? `No errors: ${fit.hessianMessage}` : '',
      `Ran on ${providers}.`,
    ];
    element('fit-summary').textContent = lines.filter((l) => l).join('\n');
    element('fit-warnings').replaceChildren(
      ...fit.warnings.map((w) => {
        const item = document.createElement('li');
        item.textContent = `warning: ${w}`;
        return item;
      }),
    );
    clearFigure(element('map-figure'));
    clearFigure(element('hist-figure'));
    element('map-caption').textContent = '';
    element('hist-caption').textContent = '';
    element('results-section').hidden = false;
  }

  private async drawFigures(
    likelihood: MixtureLikelihood,
    events: EventTable,
    map: DeltaNllMapData | null,
    prediction: Awaited<ReturnType<typeof fittedPrediction>>,
    feature: string,
    bins: number,
  ): Promise<void> {
    const unitOf = (name: string) => likelihood.parameters.find((p) => p.name === name)?.unit ?? '';
    if (map) {
      const truth = events.truth && events.truth[map.x] !== undefined && events.truth[map.y] !== undefined ? { x: events.truth[map.x], y: events.truth[map.y] } : undefined;
      const spec = deltaNllMap({
        xTitle: label({ name: map.x, unit: unitOf(map.x) }),
        yTitle: label({ name: map.y, unit: unitOf(map.y) }),
        x: map.xs,
        y: map.ys,
        deltaNll: map.deltaNll,
        gradient: { gx: map.gradX, gy: map.gradY },
        bestFit: map.best,
        ...(truth ? { truth } : {}),
      });
      await renderFigure(spec, element('map-figure'));
      element('map-caption').textContent =
        `ΔNLL = NLL − NLL(best fit) over ${map.x} × ${map.y}, the other parameters at the best fit; arrows point along −∇NLL (downhill) from the θ-gradient graph; contours at ΔNLL = 0.5 and 2.`;
    }
    const models = this.models!;
    const d = models.signal.featureNames.indexOf(feature);
    const meta = models.signal.manifest.features[d];
    const lo = Math.min(...COMPONENTS.map((c) => models[c].manifest.features[d].range[0]));
    const hi = Math.max(...COMPONENTS.map((c) => models[c].manifest.features[d].range[1]));
    const D = models.signal.dimension;
    const column = (p: { events: Float32Array }) => Float32Array.from({ length: p.events.length / D }, (_, i) => p.events[i * D + d]);
    const series: HistogramSeries[] = [{ label: `data (${events.count} events)`, values: events.columns[feature], style: 'points' }];
    const background = prediction.find((p) => p.component === 'background');
    const values = prediction.map(column);
    const total = values.reduce((n, v) => n + v.length, 0);
    const all = new Float32Array(total);
    const weights = new Float32Array(total);
    let at = 0;
    prediction.forEach((p, k) => {
      all.set(values[k], at);
      weights.fill(p.weight, at, at + values[k].length);
      at += values[k].length;
    });
    if (background) {
      const v = values[prediction.indexOf(background)];
      series.push({ label: 'fit: background', values: v, weights: new Float32Array(v.length).fill(background.weight), style: 'filled', color: '#9ecae1' });
    }
    series.push({ label: 'fit: signal + background', values: all, weights, style: 'line', color: '#D55E00' });
    const spec = histogramComparison({ xTitle: label(meta), range: [lo, hi], bins, series });
    await renderFigure(spec, element('hist-figure'));
    element('hist-caption').textContent =
      `Observed events (points, Poisson errors) and the fitted model: each flow sampled ${PREDICTION_SAMPLES} times at its best-fit parameters, weighted to its fitted share of the events.`;
  }
}
