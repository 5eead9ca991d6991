// Line figures: ROC curves for the anomaly-detection study (Tan, ICML 2020 INNF workshop; background
// rejection against signal efficiency) and training histories.

import {
  PALETTE,
  PLOT_HEIGHT,
  PLOT_WIDTH,
  baseSpec,
  fail,
  insideLegend,
  insideLegendHeight,
  logAxis,
  logDomainWithHeadroom,
  type DataRow,
  type VegaLiteSpec,
} from './spec.ts';

export interface RocCurveInput {
  label: string;
  /** ε_S, in [0, 1]. */
  signalEfficiency: number[];
  /** 1/ε_B at the same working points (points with ε_B = 0, i.e. infinite rejection, are dropped). */
  backgroundRejection: number[];
  auc: number;
}

export interface RocCurveOptions {
  title?: string;
  curves: RocCurveInput[];
  width?: number;
  height?: number;
}

/**
 * Background rejection 1/ε_B (log axis) against signal efficiency ε_S, one line per classifier,
 * the AUC in each legend entry, and the random classifier (1/ε_B = 1/ε_S) dashed. Figure data:
 * `datasets.roc` (curve, order, efficiency, rejection) and `datasets.random`.
 */
export function rocCurve(options: RocCurveOptions): VegaLiteSpec {
  const figure = 'rocCurve';
  const curves = options.curves;
  if (!Array.isArray(curves) || curves.length === 0) {
    fail(figure, 'curves must hold at least one { label, signalEfficiency, backgroundRejection, auc } entry');
  }
  const entries: string[] = [];
  const rows: DataRow[] = [];
  let maxRejection = 1;
  curves.forEach((curve, c) => {
    const { signalEfficiency: eff, backgroundRejection: rej } = curve;
    if (!Array.isArray(eff) || !Array.isArray(rej) || eff.length !== rej.length) {
      fail(figure, `curves[${c}] ("${curve.label}"): signalEfficiency and backgroundRejection must be arrays of equal length, got ${eff?.length} and ${rej?.length}`);
    }
    if (!(curve.auc >= 0 && curve.auc <= 1)) fail(figure, `curves[${c}] ("${curve.label}"): auc must be in [0, 1], got ${curve.auc}`);
    const entry = `${curve.label} (AUC = ${curve.auc.toFixed(3)})`;
    if (entries.includes(entry)) fail(figure, `curves[${c}]: the label "${curve.label}" with the same AUC appears twice; labels name legend entries`);
    entries.push(entry);
    let order = 0;
    for (let i = 0; i < eff.length; i += 1) {
      if (eff[i] < 0 || eff[i] > 1) {
        fail(figure, `curves[${c}] ("${curve.label}"): signalEfficiency[${i}] = ${eff[i]} is outside [0, 1]; pass efficiencies, not percentages`);
      }
      if (rej[i] < 1 && rej[i] > 0) {
        fail(figure, `curves[${c}] ("${curve.label}"): backgroundRejection[${i}] = ${rej[i]} is below 1; pass 1/ε_B (not ε_B or 1 − ε_B)`);
      }
      if (!(Number.isFinite(eff[i]) && Number.isFinite(rej[i]) && eff[i] > 0 && rej[i] >= 1)) continue;
      rows.push({ curve: entry, order, efficiency: eff[i], rejection: rej[i] });
      order += 1;
      maxRejection = Math.max(maxRejection, rej[i]);
    }
  });
  const height = options.height ?? PLOT_HEIGHT;
  const [, yTop] = logDomainWithHeadroom(1, maxRejection * 2, insideLegendHeight(entries.length + 1, false), height);
  const random: DataRow[] = [];
  for (let k = 0; k <= 100; k += 1) {
    const efficiency = yTop ** (-k / 100);
    random.push({ order: k, efficiency, rejection: 1 / efficiency });
  }
  const colors = entries.map((_, i) => PALETTE[i % PALETTE.length]);
  const randomLabel = 'random (1/ε_B = 1/ε_S)';

  const spec = baseSpec({ title: options.title, datasets: { roc: rows, random } });
  spec.width = options.width ?? PLOT_WIDTH;
  spec.height = height;
  const x = { field: 'efficiency', type: 'quantitative', title: 'Signal efficiency ε_S', scale: { domain: [0, 1], nice: false } };
  const y = {
    field: 'rejection',
    type: 'quantitative',
    title: 'Background rejection 1/ε_B',
    scale: { type: 'log', domain: [1, yTop], nice: false },
    axis: logAxis(1, yTop),
  };
  const allEntries = [...entries, randomLabel];
  const color = { field: 'curve', type: 'nominal', scale: { domain: allEntries, range: [...colors, '#808080'] }, legend: insideLegend(null) };
  spec.layer = [
    {
      data: { name: 'random' },
      transform: [{ calculate: JSON.stringify(randomLabel), as: 'curve' }],
      mark: { type: 'line', strokeDash: [6, 4], strokeWidth: 1.5, clip: true },
      encoding: { x, y, color, order: { field: 'order', type: 'quantitative' } },
    },
    {
      data: { name: 'roc' },
      mark: { type: 'line', strokeWidth: 2, clip: true },
      encoding: { x, y, color, order: { field: 'order', type: 'quantitative' } },
    },
  ];
  return spec;
}

export interface LossCurveOptions {
  title?: string;
  /** Epoch numbers, one per entry of `train`. */
  epochs: number[];
  train: number[];
  /** Validation loss per epoch ([] when there is no validation set). */
  validation: number[];
  yTitle?: string;
  width?: number;
  height?: number;
}

/**
 * Training and validation loss per epoch, the best validation epoch marked. Figure data:
 * `datasets.loss` (epoch, set, loss) and `datasets.best` (epoch, loss).
 */
export function lossCurve(options: LossCurveOptions): VegaLiteSpec {
  const figure = 'lossCurve';
  const { epochs, train, validation } = options;
  if (!Array.isArray(epochs) || epochs.length === 0) fail(figure, 'epochs must be a non-empty array of epoch numbers');
  if (!Array.isArray(train) || train.length !== epochs.length) {
    fail(figure, `train must have one loss per epoch (${epochs.length}), got ${Array.isArray(train) ? train.length : typeof train}`);
  }
  if (!Array.isArray(validation) || (validation.length !== 0 && validation.length !== epochs.length)) {
    fail(figure, `validation must have one loss per epoch (${epochs.length}) or be empty, got ${Array.isArray(validation) ? validation.length : typeof validation}`);
  }
  const rows: DataRow[] = [];
  const sets: [string, number[]][] = [['training', train]];
  if (validation.length > 0) sets.push(['validation', validation]);
  for (const [set, losses] of sets) {
    epochs.forEach((epoch, i) => {
      if (Number.isFinite(epoch) && Number.isFinite(losses[i])) rows.push({ epoch, set, loss: losses[i] });
    });
  }
  const best: DataRow[] = [];
  if (validation.length > 0) {
    let bestIndex = -1;
    validation.forEach((loss, i) => {
      if (Number.isFinite(loss) && (bestIndex < 0 || loss < validation[bestIndex])) bestIndex = i;
    });
    if (bestIndex >= 0) best.push({ epoch: epochs[bestIndex], loss: validation[bestIndex], label: `best validation: epoch ${epochs[bestIndex]}` });
  }
  // The label of a late best epoch goes to the left of its marker, so it stays inside the frame.
  const firstEpoch = Math.min(...epochs);
  const lastEpoch = Math.max(...epochs);
  const labelLeft = best.length > 0 && lastEpoch > firstEpoch && ((best[0].epoch as number) - firstEpoch) / (lastEpoch - firstEpoch) > 0.6;
  const setNames = sets.map(([set]) => set);
  const spec = baseSpec({ title: options.title, datasets: { loss: rows, best } });
  spec.width = options.width ?? PLOT_WIDTH;
  spec.height = options.height ?? PLOT_HEIGHT;
  const x = { field: 'epoch', type: 'quantitative', title: 'Epoch', scale: { nice: false, zero: false }, axis: { tickMinStep: 1, format: 'd' } };
  const y = { field: 'loss', type: 'quantitative', title: options.yTitle ?? 'Loss (mean −log p per event)', scale: { zero: false } };
  spec.layer = [
    {
      data: { name: 'loss' },
      mark: { type: 'line', strokeWidth: 2 },
      encoding: {
        x,
        y,
        color: { field: 'set', type: 'nominal', scale: { domain: setNames, range: [PALETTE[0], PALETTE[1]] }, legend: insideLegend(null) },
        strokeDash: { field: 'set', type: 'nominal', scale: { domain: setNames, range: [[1, 0], [6, 3]] } },
      },
    },
    {
      data: { name: 'best' },
      mark: { type: 'point', shape: 'circle', filled: false, size: 140, strokeWidth: 2, color: 'black' },
      encoding: { x, y },
    },
    {
      data: { name: 'best' },
      mark: { type: 'text', align: labelLeft ? 'right' : 'left', baseline: 'bottom', dx: labelLeft ? -8 : 8, dy: -8, fontSize: 12 },
      encoding: { x, y, text: { field: 'label' } },
    },
  ];
  return spec;
}
