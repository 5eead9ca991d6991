// Hardening of the model loader (issue 16): files are checked to be regular files of the manifest's size before
// they are read (item 4), and graphs to use the default ONNX domain at the manifest's opset, with the inputs and
// outputs the manifest declares (item 5). Every refusal names the file (and, for graphs, the model).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { loadModel } from '@flowscan/runtime/node';
import { withinHangGuard } from './helpers/hang-guard.ts';
import { temporaryFolder } from './helpers/temporary.ts';

const { onnx } = onnxProto;
const folder = temporaryFolder('flowscan-hardening-model-');
const MODELS = join(import.meta.dirname, '..', 'models');

/** A copy of a shipped model; `edit` may change its files and manifest (written back afterwards). */
async function modelCopy(name: string, from: string, edit: (dir: string, manifest: { graphs: Record<string, { file: string; bytes: number; sha256: string }> }) => Promise<void>): Promise<string> {
  const dir = join(folder(), name);
  await cp(join(MODELS, from), dir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  await edit(dir, manifest);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

/** Puts `bytes` in place of a graph's file and vouches for them in the manifest (size and sha256). */
async function replaceGraph(dir: string, manifest: { graphs: Record<string, { file: string; bytes: number; sha256: string }> }, graph: string, bytes: Uint8Array): Promise<void> {
  await writeFile(join(dir, manifest.graphs[graph].file), bytes);
  manifest.graphs[graph].bytes = bytes.byteLength;
  manifest.graphs[graph].sha256 = createHash('sha256').update(bytes).digest('hex');
}

test('item 4: a graph symlinked to /dev/zero, a FIFO and a file larger than the manifest says are refused before reading', async (t) => {
  const zero = await modelCopy('dev-zero', 'toy-signal', async (dir) => {
    await rm(join(dir, 'log_prob.onnx'));
    await symlink('/dev/zero', join(dir, 'log_prob.onnx'));
  });
  await t.throwsAsync(withinHangGuard(() => `loading ${zero}`, loadModel(zero, { ep: 'cpu' })), { message: `${join(zero, 'log_prob.onnx')} is a character device: a model folder holds regular files only` });
  const fifo = await modelCopy('fifo', 'toy-signal', async (dir) => {
    await rm(join(dir, 'sample.onnx'));
    execFileSync('mkfifo', [join(dir, 'sample.onnx')]);
  });
  await t.throwsAsync(withinHangGuard(() => `loading ${fifo}`, loadModel(fifo, { ep: 'cpu' })), { message: /sample\.onnx is a named pipe \(FIFO\): a model folder holds regular files only/ });
  // 8 GiB, sparse: reading it whole would exhaust memory; its size alone refuses it.
  const huge = await modelCopy('huge', 'toy-signal', async (dir) => truncate(join(dir, 'log_prob_batch.onnx'), 2 ** 33));
  await t.throwsAsync(withinHangGuard(() => `loading ${huge}`, loadModel(huge, { ep: 'cpu' })), { message: /log_prob_batch\.onnx has 8589934592 bytes, the manifest says \d+: the file is truncated or was replaced/ });
  const manifestZero = await modelCopy('manifest-zero', 'toy-signal', async () => undefined);
  await rm(join(manifestZero, 'manifest.json'));
  await symlink('/dev/zero', join(manifestZero, 'manifest.json'));
  await t.throwsAsync(withinHangGuard(() => `loading ${manifestZero}`, loadModel(manifestZero, { ep: 'cpu' })), { message: /manifest\.json is a character device/ });
});

test('item 5: a graph with a com.microsoft operator and a matching sha256 is refused, naming file, model, node and domain', async (t) => {
  const dir = await modelCopy('contrib-op', 'toy-signal', async (d, manifest) => {
    const model = onnx.ModelProto.decode(await readFile(join(d, 'log_prob.onnx')));
    const matmul = model.graph!.node!.find((n) => n.opType === 'MatMul');
    if (!matmul) throw new Error('the shipped log_prob graph has no MatMul to replace');
    // FusedMatMul (alpha 1, no transposes) computes what MatMul does, in onnxruntime's contrib domain only.
    matmul.opType = 'FusedMatMul';
    matmul.domain = 'com.microsoft';
    model.opsetImport!.push({ domain: 'com.microsoft', version: 1 });
    await replaceGraph(d, manifest, 'log_prob', onnx.ModelProto.encode(model).finish());
  });
  await t.throwsAsync(loadModel(dir, { ep: 'cpu' }), { message: `${join(dir, 'log_prob.onnx')} (model toy-signal): imports operator set "com.microsoft": only the default ONNX domain is allowed` });
  // Without the import (onnxruntime then refuses it too), the node's domain is named.
  const nodeOnly = await modelCopy('contrib-node', 'toy-signal', async (d, manifest) => {
    const model = onnx.ModelProto.decode(await readFile(join(d, 'log_prob_batch_f64.onnx')));
    const node = model.graph!.node!.find((n) => n.opType === 'MatMul')!;
    node.domain = 'com.microsoft';
    await replaceGraph(d, manifest, 'log_prob_batch_f64', onnx.ModelProto.encode(model).finish());
  });
  await t.throwsAsync(loadModel(nodeOnly, { ep: 'cpu', precision: 'float32' }), { message: /log_prob_batch_f64\.onnx \(model toy-signal\): node \d+ \(MatMul\) is in domain "com\.microsoft"/ });
});

test('item 5: a background graph in place of a signal graph is refused at load, naming file, model and the shape', async (t) => {
  const dir = await modelCopy('swapped', 'toy-signal', async (d, manifest) => {
    await replaceGraph(d, manifest, 'log_prob_grad_f64', await readFile(join(MODELS, 'toy-background', 'log_prob_grad_f64.onnx')));
  });
  await t.throwsAsync(loadModel(dir, { ep: 'cpu' }), {
    message: `${join(dir, 'log_prob_grad_f64.onnx')} (model toy-signal): input theta has shape [K, 1], the manifest declares [K, 2]`,
  });
  // Another opset than the manifest's.
  const opset = await modelCopy('opset', 'toy-signal', async (d, manifest) => {
    const model = onnx.ModelProto.decode(await readFile(join(d, 'sample.onnx')));
    model.opsetImport![0].version = 17;
    await replaceGraph(d, manifest, 'sample', onnx.ModelProto.encode(model).finish());
  });
  await t.throwsAsync(loadModel(opset, { ep: 'cpu' }), { message: /sample\.onnx \(model toy-signal\): imports opset 17, the manifest says 18/ });
  t.truthy(await loadModel(join(MODELS, 'toy-signal'), { ep: 'cpu' }), 'the shipped model still loads');
});
