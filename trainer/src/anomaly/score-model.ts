// An anomaly score on disk: the exported density flows (ONNX graphs with their manifests, as `flowscan export`
// writes them) and anomaly.json, which says how their log-densities combine. Two graphs and a documented
// subtraction rather than one fused graph: each flow keeps its own manifest (training ranges, sha256, checks) and
// loads with the runtime's ordinary model loader, in Node and in the browser page, and log p(x|data) — needed for
// the bits per dimension and Tan's figures — stays available beside the score.
//   density:  score(x) = −log p(x|data)
//   ratio:    score(x) = log p(x|data) − log p(x|bkg) = −log λ(x)   (Tan eq. 3; ANODE's log R)
// High scores are signal-like; with a localising variable m both densities take m as their condition. A density
// may be an ensemble of flows trained with different seeds: its log p is then the mean of the members' log p (the
// log of their geometric mean), which averages out the members' independent training errors; the flow ratio's
// largest scores come from regions where two single flows disagree by chance, and the mean of five took its max
// SIC on the real LHCO data from 1.7–6.1 (single seeds) to 6.7 (docs/anomaly.md).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FlowModel } from '@flowscan/runtime';
import { loadModel, writeFileAtomic } from '@flowscan/runtime/node';
import { exportModel } from '../export/export.ts';
import type { BootstrapIteration } from './bootstrap.ts';
import { type DensityModel, LOCALISING_VARIABLE, conditioningOf } from './density.ts';

export type ScoreKind = 'density' | 'ratio';

export interface AnomalyScoreManifest {
  format: 'flowscan-anomaly-score';
  version: 1;
  kind: ScoreKind;
  /** How the background density was obtained (ratio scores). */
  background?: 'given' | 'bootstrap';
  /** The combination, spelled out for readers of the file. */
  combination: string;
  features: string[];
  /** The column the densities are conditioned on (p(x | m)), if any. */
  condition?: string;
  /** Model folders relative to this file: the members of each density's ensemble. */
  models: { data: string[]; background?: string[] };
  bootstrap?: { alpha: number; iterations: BootstrapIteration[]; converged: boolean };
}

export const SCORE_MANIFEST = 'anomaly.json';

const COMBINATIONS: Record<ScoreKind, string> = {
  density: 'score = −log p(x|data), log p(x|data) = mean of the log_prob outputs of the models.data flows',
  ratio: 'score = log p(x|data) − log p(x|bkg) = −log λ(x), each log p the mean of the log_prob outputs of its models.data or models.background flows',
};

export interface ScoreExport {
  /** The data density's ensemble members (one or more). */
  data: DensityModel[];
  background?: DensityModel[];
  backgroundSource?: 'given' | 'bootstrap';
  bootstrap?: AnomalyScoreManifest['bootstrap'];
  /** The condition column's name in the user's files (the flows call it mjj). */
  condition?: string;
  description: string;
}

/** Writes the flows' ONNX exports (data-<k>/, background-<k>/) and anomaly.json into `dir`. */
export async function exportAnomalyScore(dir: string, s: ScoreExport): Promise<AnomalyScoreManifest> {
  if (s.data.length === 0 || s.background?.length === 0) throw new Error('every density of an anomaly score needs at least one flow');
  const kind: ScoreKind = s.background ? 'ratio' : 'density';
  const write = async (models: DensityModel[], role: 'data' | 'background', what: string): Promise<string[]> => {
    const names: string[] = [];
    for (const [k, model] of models.entries()) {
      names.push(`${role}-${k}`);
      await exportModel(model, join(dir, `${role}-${k}`), { name: `anomaly-${role}-${k}`, description: `${what}, member ${k + 1} of ${models.length}: ${s.description}` });
    }
    return names;
  };
  const data = await write(s.data, 'data', 'p(x|data)');
  const background = s.background ? await write(s.background, 'background', `p(x|bkg) (${s.backgroundSource ?? 'given'})`) : undefined;
  const manifest: AnomalyScoreManifest = {
    format: 'flowscan-anomaly-score',
    version: 1,
    kind,
    ...(s.background ? { background: s.backgroundSource ?? 'given' } : {}),
    combination: COMBINATIONS[kind],
    features: s.data[0].definition.features.map((f) => f.name),
    ...(conditioningOf(s.data[0]) === 'm' ? { condition: s.condition ?? LOCALISING_VARIABLE } : {}),
    models: { data, ...(background ? { background } : {}) },
    ...(s.bootstrap ? { bootstrap: s.bootstrap } : {}),
  };
  await writeFileAtomic(join(dir, SCORE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export interface LoadedScore {
  manifest: AnomalyScoreManifest;
  /** Scores and log-densities of events x (row-major N×D, the manifest's feature order) and conditions m. */
  score(x: Float64Array, m: Float64Array | null): Promise<{ score: Float64Array; logPData: Float64Array; logPBackground: Float64Array | null }>;
  release(): Promise<void>;
}

function readManifest(text: string, where: string): AnomalyScoreManifest {
  let json: AnomalyScoreManifest;
  try {
    json = JSON.parse(text) as AnomalyScoreManifest;
  } catch (error) {
    throw new Error(`${where} is not valid JSON (${(error as Error).message})`);
  }
  if (json.format !== 'flowscan-anomaly-score' || json.version !== 1) {
    throw new Error(`${where} is not a flowscan anomaly score (format ${String(json.format)}, version ${String(json.version)}); write one with flowscan anomaly train`);
  }
  if (json.kind !== 'density' && json.kind !== 'ratio') throw new Error(`${where}: kind must be density or ratio, got ${String(json.kind)}`);
  const members = (list: unknown): boolean => Array.isArray(list) && list.length > 0 && list.every((m) => typeof m === 'string');
  if (!members(json.models?.data)) throw new Error(`${where}: models.data must list the data density's model folders`);
  if (json.kind === 'ratio' && !members(json.models.background)) throw new Error(`${where}: a ratio score needs models.background, the background density's model folders`);
  if (!Array.isArray(json.features) || json.features.length === 0) throw new Error(`${where}: features must list the feature columns`);
  return json;
}

/** Events per graph call. */
const CHUNK = 16_384;

/** The mean over the ensemble's members of log p(x_i) (or log p(x_i | m_i)). */
async function meanLogProb(members: FlowModel[], x: Float64Array, m: Float64Array | null, D: number): Promise<Float64Array> {
  const count = x.length / D;
  const out = new Float64Array(count);
  for (const model of members) {
    for (let s = 0; s < count; s += CHUNK) {
      const e = Math.min(s + CHUNK, count);
      const events = model.eventsTensor(Float32Array.from(x.subarray(s * D, e * D)), e - s);
      const logP = await model.logProb(events, m ? Float32Array.from(m.subarray(s, e)) : new Float32Array(0));
      for (let i = s; i < e; i++) out[i] += logP[i - s] / members.length;
    }
  }
  return out;
}

/** Loads an anomaly score folder written by exportAnomalyScore (every model checked by the runtime's loader). */
export async function loadAnomalyScore(dir: string): Promise<LoadedScore> {
  const where = join(dir, SCORE_MANIFEST);
  let text: string;
  try {
    text = await readFile(where, 'utf8');
  } catch {
    throw new Error(`${where} not found: expected a folder written by flowscan anomaly train --out`);
  }
  const manifest = readManifest(text, where);
  const load = (names: string[]): Promise<FlowModel[]> => Promise.all(names.map((name) => loadModel(join(dir, name), { ep: 'cpu', precision: 'float32' })));
  const data = await load(manifest.models.data);
  const background = manifest.models.background ? await load(manifest.models.background) : null;
  const D = manifest.features.length;
  return {
    manifest,
    async score(x, m) {
      if (x.length % D !== 0) throw new Error(`${x.length} feature values do not split into events of ${D} features (${manifest.features.join(', ')})`);
      if ((m === null) !== (manifest.condition === undefined)) {
        throw new Error(manifest.condition ? `this score is conditioned on ${manifest.condition}: give its values` : 'this score takes no condition column');
      }
      const logPData = await meanLogProb(data, x, m, D);
      const logPBackground = background ? await meanLogProb(background, x, m, D) : null;
      const score = logPBackground ? logPData.map((l, i) => l - logPBackground[i]) : logPData.map((l) => -l);
      return { score, logPData, logPBackground };
    },
    async release() {
      for (const model of [...data, ...(background ?? [])]) await model.release();
    },
  };
}
