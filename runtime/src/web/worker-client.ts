// The page's side of the fit worker: typed calls with progress, and Cancel. A cancelled call ends at the worker's
// next graph run; one graph run on 10^5 events and many starts can take seconds, so when the worker has not
// stopped within CANCEL_GRACE_MS the page ends it (Worker.terminate) and starts a fresh one, which the page
// prepares again (onnxruntime, the models) before its next call. Either way Cancel answers in under a second.
import { type CallName, FitCancelled, type Progress, type WorkerCalls, type WorkerReply, type WorkerRequest } from './protocol.ts';

/** How long a cancelled call may take to stop by itself before the worker is replaced (ms). */
export const CANCEL_GRACE_MS = 400;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onProgress?: ((progress: Progress) => void) | undefined;
}

/** Calls into a fresh worker that bring it to the state the page expects (start onnxruntime, load models). */
export type Prepare = (send: FitWorker['send']) => Promise<void>;

/** What the client uses of a Worker (the page passes real module workers; the tests, stand-ins). */
export type WorkerLike = Pick<Worker, 'postMessage' | 'terminate' | 'onmessage' | 'onerror'>;

export class FitWorker {
  private worker: WorkerLike;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** A replacement worker being prepared after a forced Cancel; calls wait for it. */
  private ready: Promise<void> = Promise.resolve();
  /** Why the current worker stopped, if it did: later calls fail with it at once instead of waiting forever. */
  private stopped: Error | null = null;

  /** `create` makes a worker (new Worker(url, { type: 'module' }) in the page); `name` is for messages. */
  constructor(
    private readonly create: () => WorkerLike,
    private readonly name: string,
    private readonly prepare: Prepare,
  ) {
    this.worker = this.spawn();
  }

  private spawn(): WorkerLike {
    this.stopped = null;
    const worker = this.create();
    worker.onmessage = (event: MessageEvent<WorkerReply>) => this.receive(event.data);
    // A worker that cannot start (script missing, blocked, crashed) fails every call with the browser's reason.
    worker.onerror = (event) => {
      event.preventDefault();
      this.stopped = new Error(`the fit worker (${this.name}) stopped: ${event.message || 'it could not be loaded'}`);
      this.failAll(this.stopped);
    };
    return worker;
  }

  private receive(reply: WorkerReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    if (reply.kind === 'progress') {
      pending.onProgress?.(reply.progress);
      return;
    }
    this.pending.delete(reply.id);
    if (reply.kind === 'done') pending.resolve(reply.value);
    else pending.reject(reply.cancelled ? new FitCancelled() : new Error(reply.message));
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  /** A call without waiting for a replacement worker to be prepared (used by the preparation itself). */
  send<K extends CallName>(call: K, request: WorkerCalls[K]['request'], onProgress?: (progress: Progress) => void): Promise<WorkerCalls[K]['reply']> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, onProgress });
      this.worker.postMessage({ id, call, request } as WorkerRequest);
    });
  }

  async call<K extends CallName>(call: K, request: WorkerCalls[K]['request'], onProgress?: (progress: Progress) => void): Promise<WorkerCalls[K]['reply']> {
    await this.ready;
    return this.send(call, request, onProgress);
  }

  /**
   * Stops the running call: it rejects with FitCancelled within CANCEL_GRACE_MS, by itself or because the worker
   * was replaced (the replacement is prepared in the background; the next call waits for it).
   */
  cancel(): void {
    if (this.pending.size === 0) return;
    this.worker.postMessage({ id: 0, call: 'cancel' } satisfies WorkerRequest);
    const running = [...this.pending.keys()];
    setTimeout(() => {
      if (!running.some((id) => this.pending.has(id))) return;
      this.worker.terminate();
      this.failAll(new FitCancelled());
      this.worker = this.spawn();
      this.ready = this.prepare((call, request, onProgress) => this.send(call, request, onProgress)).catch(() => {
        // The next call reports what is wrong (the preparation failing again there, or its own error).
      });
    }, CANCEL_GRACE_MS);
  }
}
