// An anomaly score on disk: the exported density flows (ONNX graphs with their manifests, as `flowscan export`
// writes them) and anomaly.json, which says how their log-densities combine. Two graphs and a documented
// subtraction rather than one fused graph: each flow keeps its own manifest (training ranges, sha256, checks) and
// loads with the runtime's ordinary model loader, in Node and in the browser page, and log p(x|data) — needed for
// the bits per dimension and Tan's figures — stays available beside the score.
//   density:  score(x) = −log p(x|data)
//   ratio:    score(x) = log p(x|data) − log p(x|bkg) = −log λ(x)   (Tan eq. 3; ANODE's log R)
// High scores are signal-like; with a localising variable m both densities take m as their condition.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type FlowModel } from '@flowscan/runtime';
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
  /** Model folders relative to this file. */
  models: { data: string; background?: string };
  bootstrap?: { alpha: number; iterations: BootstrapIteration[]; converged: boolean };
}

export const SCORE_MANIFEST = 'anomaly.json';

const COMBINATIONS: Record<ScoreKind, string> = {
  density: 'score = −log p(x|data) (log_prob output of data/)',
  ratio: 'score = log p(x|data) − log p(x|bkg) = −log λ(x) (log_prob of data/ minus log_prob of background/)',
};

export interface ScoreExport {
  data: DensityModel;
  background?: DensityModel;
  backgroundSource?: 'given' | 'bootstrap';
  bootstrap?: AnomalyScoreManifest['bootstrap'];
  /** The condition column's name in the user's files (the flows call it mjj). */
  condition?: string;
  description: string;
}

/** Writes the flows' ONNX exports and anomaly.json into `dir`. */
export async function exportAnomalyScore(dir: string, s: ScoreExport): Promise<AnomalyScoreManifest> {
  const kind: ScoreKind = s.background ? 'ratio' : 'density';
  await exportModel(s.data, join(dir, 'data'), { name: 'anomaly-data', description: `p(x|data): ${s.description}` });
  if (s.background) await exportModel(s.background, join(dir, 'background'), { name: 'anomaly-background', description: `p(x|bkg) (${s.backgroundSource}): ${s.description}` });
  const manifest: AnomalyScoreManifest = {
    format: 'flowscan-anomaly-score',
    version: 1,
    kind,
    ...(s.background ? { background: s.backgroundSource ?? 'given' } : {}),
    combination: COMBINATIONS[kind],
    features: s.data.definition.features.map((f) => f.name),
    ...(conditioningOf(s.data) === 'm' ? { condition: s.condition ?? LOCALISING_VARIABLE } : {}),
    models: { data: 'data', ...(s.background ? { background: 'background' } : {}) },
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
  if (json.kind === 'ratio' && !json.models.background) throw new Error(`${where}: a ratio score needs models.background`);
  if (!Array.isArray(json.features) || json.features.length === 0) throw new Error(`${where}: features must list the feature columns`);
  return json;
}

/** Events per graph call. */
const CHUNK = 16_384;

async function logProbOf(model: FlowModel, x: Float64Array, m: Float64Array | null, D: number): Promise<Float64Array> {
  const count = x.length / D;
  const out = new Float64Array(count);
  for (let s = 0; s < count; s += CHUNK) {
    const e = Math.min(s + CHUNK, count);
    const events = model.eventsTensor(Float32Array.from(x.subarray(s * D, e * D)), e - s);
    out.set(await model.logProb(events, m ? Float32Array.from(m.subarray(s, e)) : new Float32Array(0)), s);
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
  const data = await loadModel(join(dir, manifest.models.data), { ep: 'cpu', precision: 'float32' });
  const background = manifest.models.background ? await loadModel(join(dir, manifest.models.background), { ep: 'cpu', precision: 'float32' }) : null;
  const D = manifest.features.length;
  return {
    manifest,
    async score(x, m) {
      if (x.length % D !== 0) throw new Error(`${x.length} feature values do not split into events of ${D} features (${manifest.features.join(', ')})`);
      if ((m === null) !== (manifest.condition === undefined)) {
        throw new Error(manifest.condition ? `this score is conditioned on ${manifest.condition}: give its values` : 'this score takes no condition column');
      }
      const logPData = await logProbOf(data, x, m, D);
      const logPBackground = background ? await logProbOf(background, x, m, D) : null;
      const score = logPBackground ? logPData.map((l, i) => l - logPBackground[i]) : logPData.map((l) => -l);
      return { score, logPData, logPBackground };
    },
    async release() {
      await data.release();
      await background?.release();
    },
  };
}
