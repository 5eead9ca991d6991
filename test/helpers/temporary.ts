// A temporary folder for one test file: made before its tests, removed after them (also when they fail).
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Registers the hooks; the returned function gives the folder's path once the tests run. */
export function temporaryFolder(prefix: string): () => string {
  let dir = '';
  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  test.after.always(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}
