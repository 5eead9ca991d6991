// The page's client of its fit worker (runtime/src/web/worker-client.ts) with stand-in workers: calls and progress,
// Cancel heard by the worker, Cancel of a worker stuck in a long graph run (terminated after CANCEL_GRACE_MS and
// replaced, the replacement prepared before the next call), and a worker that fails to load. Which path ended a
// cancelled call is told by what happened to the worker when the call ended (terminated or not), not by how many
// milliseconds it took, which grow with the machine's load.
import test from 'ava';
import { CANCEL_GRACE_MS, FitWorker, type WorkerLike } from '../runtime/src/web/worker-client.ts';
import { FitCancelled, type WorkerReply, type WorkerRequest } from '../runtime/src/web/protocol.ts';

type Behaviour = (request: WorkerRequest, reply: (r: WorkerReply) => void) => void;

class StandIn implements WorkerLike {
  onmessage: Worker['onmessage'] = null;
  onerror: Worker['onerror'] = null;
  readonly received: WorkerRequest[] = [];
  terminated = false;
  constructor(private readonly behaviour: Behaviour) {}
  postMessage(message: unknown): void {
    const request = message as WorkerRequest;
    this.received.push(request);
    // Replies come in later tasks, as from a real worker.
    this.behaviour(request, (reply) => setTimeout(() => this.onmessage?.call(this as unknown as Worker, { data: reply } as MessageEvent), 0));
  }
  terminate(): void {
    this.terminated = true;
  }
}

/** Answers 'start' at once and 'fit' after `fitMs` with progress first; hears Cancel unless `deaf`. */
function fitWorker(fitMs: number, deaf: boolean): Behaviour {
  let running: number | null = null;
  return (request, reply) => {
    if (request.call === 'cancel') {
      if (!deaf && running !== null) reply({ id: running, kind: 'failed', message: 'cancelled by the user', cancelled: true });
      return;
    }
    if (request.call === 'start') return reply({ id: request.id, kind: 'done', value: { started: true } });
    running = request.id;
    reply({ id: request.id, kind: 'progress', progress: { text: 'stage 1' } });
    // Unref: the stuck worker's answer (60 s) must not keep the test file's process alive after its tests end.
    setTimeout(() => reply({ id: request.id, kind: 'done', value: 'fitted' }), fitMs).unref();
  };
}

const job = {} as never;

test('a call resolves with the worker\'s value and relays its progress', async (t) => {
  const worker = new StandIn(fitWorker(10, false));
  const client = new FitWorker(() => worker, 'worker.js', async () => undefined);
  const progress: string[] = [];
  t.is(await client.call('fit', job, (p) => progress.push(p.text)), 'fitted' as never);
  t.deepEqual(progress, ['stage 1']);
  t.deepEqual(worker.received.map((r) => r.call), ['fit']);
});

/** A fit call, and its first progress message: the worker has the call. */
function startFit(client: FitWorker): { running: Promise<unknown>; started: Promise<void> } {
  let progressed!: () => void;
  const started = new Promise<void>((resolve) => (progressed = resolve));
  return { running: client.call('fit', job, () => progressed()), started };
}

test('Cancel that the worker hears ends the call before the grace period, and the worker stays', async (t) => {
  const created: StandIn[] = [];
  const client = new FitWorker(() => created[created.push(new StandIn(fitWorker(5000, false))) - 1], 'worker.js', async () => undefined);
  const { running, started } = startFit(client);
  await started;
  client.cancel();
  await t.throwsAsync(running, { instanceOf: FitCancelled });
  // Ended by the worker's answer: the grace period's timer, which terminates a worker that has not answered, has not fired.
  t.false(created[0].terminated, 'the call ended by the worker\'s answer, not by termination');
  // A timer due after the grace period's runs after it: by then a replacement would exist.
  await new Promise((resolve) => setTimeout(resolve, CANCEL_GRACE_MS + 50));
  t.is(created.length, 1, 'no replacement');
  t.false(created[0].terminated);
});

test('Cancel of a worker stuck in a long graph run: terminated after the grace period, replaced and prepared before the next call', async (t) => {
  const created: StandIn[] = [];
  const prepared: string[] = [];
  const client = new FitWorker(
    () => created[created.push(new StandIn(fitWorker(created.length === 0 ? 60_000 : 10, true))) - 1],
    'worker.js',
    async (send) => {
      prepared.push('start');
      await send('start', { wasmBase: 'ort/' });
    },
  );
  const { running, started } = startFit(client);
  await started;
  const clicked = performance.now();
  client.cancel();
  await t.throwsAsync(running, { instanceOf: FitCancelled });
  const ms = performance.now() - clicked;
  t.log(`cancelled after ${ms.toFixed(0)} ms (grace ${CANCEL_GRACE_MS} ms)`);
  // Not before the grace period (timers never fire early; 5 ms for their rounding), and by termination: the
  // stuck worker's fit (60 s) never answered, and it had been terminated and replaced when the call ended.
  t.true(ms >= CANCEL_GRACE_MS - 5, `${ms} ms`);
  t.is(created.length, 2);
  t.true(created[0].terminated);
  t.deepEqual(prepared, ['start']);
  // The next call goes to the replacement, after its preparation.
  t.is(await client.call('fit', job), 'fitted' as never);
  t.deepEqual(created[1].received.map((r) => r.call), ['start', 'fit']);
});

test('a worker that cannot load fails the running call and every later one with its name and the browser\'s reason', async (t) => {
  const worker = new StandIn(() => undefined);
  const client = new FitWorker(() => worker, 'worker.js', async () => undefined);
  const running = client.call('start', { wasmBase: 'ort/' });
  await new Promise((resolve) => setTimeout(resolve, 0));
  worker.onerror?.call(worker as unknown as Worker, { message: 'Failed to fetch a worker script', preventDefault: () => undefined } as ErrorEvent);
  const message = 'the fit worker (worker.js) stopped: Failed to fetch a worker script';
  await t.throwsAsync(running, { message });
  await t.throwsAsync(client.call('fit', job), { message }, 'a later call does not wait for an answer that cannot come');
});
