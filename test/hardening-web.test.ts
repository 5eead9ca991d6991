// Hardening of `flowscan web` (issue 16 item 6): only regular files inside the models folder after resolving
// symbolic links, no dotfiles, requests only for the bound address (DNS rebinding), and a strict
// Content-Security-Policy on every response. The page itself still works under that policy: test/browser.test.ts.
import test from 'ava';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { type WebServer, CONTENT_SECURITY_POLICY, listModelFolders, startWebServer } from '../runtime/src/node/web-server.ts';
const MODELS = join(import.meta.dirname, '..', 'models');
let server: WebServer;
let work = '';
let models = '';

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'flowscan-hardening-web-'));
  models = join(work, 'models');
  await cp(join(MODELS, 'toy-signal'), join(models, 'toy-signal'), { recursive: true });
  const outside = join(work, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'not for the browser\n');
  await cp(join(MODELS, 'toy-signal'), join(outside, 'model'), { recursive: true });
  // A link to a folder outside, a link to a file outside inside a model folder, and a model folder that is a link out.
  await symlink(outside, join(models, 'link'));
  await symlink(join(outside, 'secret.txt'), join(models, 'toy-signal', 'secret.txt'));
  await symlink('/etc/passwd', join(models, 'toy-signal', 'passwd'));
  await symlink(join(outside, 'model'), join(models, 'linked-model'));
  // Dotfiles: a hidden file in a model folder and a hidden folder holding a manifest.
  await writeFile(join(models, 'toy-signal', '.env'), 'TOKEN=1\n');
  await cp(join(MODELS, 'toy-signal'), join(models, '.hidden-model'), { recursive: true });
  server = await startWebServer({ port: 0, host: '127.0.0.1', modelsDir: models });
});

test.after.always(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A raw GET (fetch would normalise the path and set its own Host header). */
function get(path: string, host = `127.0.0.1:${server.port}`): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: server.port, path, headers: { Host: host } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

test('item 6: symbolic links out of the models folder are not followed', async (t) => {
  for (const path of ['/models/link/secret.txt', '/models/toy-signal/secret.txt', '/models/toy-signal/passwd', '/models/linked-model/manifest.json']) {
    const response = await get(path);
    t.is(response.status, 404, path);
    t.false(response.body.includes('not for the browser') || response.body.includes('root:'), path);
  }
  t.is((await get('/models/toy-signal/manifest.json')).status, 200, 'regular files inside are served');
  t.deepEqual(await listModelFolders(models), ['toy-signal'], 'neither the linked nor the hidden model folder is offered');
  t.deepEqual(JSON.parse((await get('/models/index.json')).body), { models: ['toy-signal'] });
});

test('item 6: dotfiles and dot-folders are not served', async (t) => {
  for (const path of ['/models/toy-signal/.env', '/models/.hidden-model/manifest.json', '/models/toy-signal/%2eenv']) t.is((await get(path)).status, 404, path);
});

test('item 6: a Host header other than the bound address is refused (DNS rebinding)', async (t) => {
  for (const host of ['attacker.example', `attacker.example:${server.port}`, `127.0.0.1:${server.port + 1}`, `127.0.0.1.nip.io:${server.port}`]) {
    const response = await get('/models/toy-signal/manifest.json', host);
    t.is(response.status, 421, host);
    t.regex(response.body, new RegExp(`only for http://127\\.0\\.0\\.1:${server.port}/`), host);
  }
  t.is((await get('/', `127.0.0.1:${server.port}`)).status, 200);
  t.is((await get('/', `localhost:${server.port}`)).status, 200, 'localhost always names this computer');
});

test('item 6: every response carries a strict Content-Security-Policy', async (t) => {
  for (const path of ['/', '/app.js', '/models/index.json', '/models/toy-signal/manifest.json', '/nothing-here']) {
    t.is((await get(path)).headers['content-security-policy'], CONTENT_SECURITY_POLICY, path);
  }
  const directives = new Map(CONTENT_SECURITY_POLICY.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
  t.deepEqual(directives.get('default-src'), ["'none'"]);
  t.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
  t.deepEqual(directives.get('object-src'), ["'none'"]);
  for (const [name, values] of directives) {
    t.false(values.includes("'unsafe-inline'"), `${name} allows no inline code`);
    t.false(values.some((v) => v === '*' || v.startsWith('http')), `${name} allows no other origin`);
  }
});
