// Adam (Kingma & Ba, ICLR 2015, Algorithm 1) on Float32Arrays, in place: the update of the onnxruntime training
// engines (flows: onnx-step.ts, classifiers: classifier/train.ts), with TensorFlow.js's default constants.
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/**
 * One Adam update of weights `p` with gradient `g` times `gradScale` (gradient-norm clipping), moments `m` and `v`,
 * at 1-based step `step` (bias corrections 1 − β^step).
 */
export function adamUpdate(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, step: number, learningRate: number, gradScale = 1): void {
  const c1 = 1 - BETA1 ** step;
  const c2 = 1 - BETA2 ** step;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * gradScale;
    m[i] = m[i] * BETA1 + gi * (1 - BETA1);
    v[i] = v[i] * BETA2 + gi * gi * (1 - BETA2);
    p[i] -= ((m[i] / c1) / (Math.sqrt(v[i] / c2) + EPSILON)) * learningRate;
  }
}
