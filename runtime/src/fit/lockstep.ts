/**
 * Runs many point machines (minimisers, profile scans) in lock-step against one batched objective: each
 * `step()` gathers the pending requests of all running machines, maps them to physical points, evaluates
 * them in ONE `evaluate` call, and hands every machine its share of the reply. A machine that finishes
 * drops out of the next batch; its completion callback may start new machines, which join the next step.
 */
import type { ScaledEmbedding } from './embedding.ts';
import { type PointMachine, type PointReply, type PointRequest, projectedGradientNorm } from './machine.ts';
import { evaluateBatch, type BatchObjective, type EvaluationCounts } from './objective.ts';

interface Running {
  machine: PointMachine<unknown>;
  embedding: ScaledEmbedding;
  request: PointRequest;
  finish: (result: unknown) => void;
}

export class Lockstep {
  readonly counts: EvaluationCounts = { calls: 0, points: 0 };
  /** Lowest finite objective value seen in any reply (for progress reports). */
  lowestValue = Infinity;
  /** ‖P(u − ∇_u f) − u‖_∞ in scaled units (what minimisers compare with gtol) at the lowest value (progress reports). */
  gradientNormAtLowest = NaN;
  private running: Running[] = [];

  constructor(private readonly objective: BatchObjective) {}

  /** Number of machines waiting for their next evaluation. */
  get active(): number {
    return this.running.length;
  }

  /**
   * Starts a machine whose scaled coordinates map to physical points through `embedding`. `finish` receives
   * its return value when it completes (possibly during a later `step()`).
   */
  start<R>(machine: PointMachine<R>, embedding: ScaledEmbedding, finish: (result: R) => void): void {
    this.advance(
      { machine, embedding, request: { points: new Float64Array(0), count: 0 }, finish: finish as (r: unknown) => void },
      machine.next(),
    );
  }

  /** One batched evaluate call for every pending request. Does nothing when no machine is running. */
  async step(): Promise<void> {
    const batch = this.running;
    if (batch.length === 0) return;
    this.running = [];
    const p = this.objective.dimension;
    const total = batch.reduce((sum, run) => sum + run.request.count, 0);
    const points = new Float64Array(total * p);
    let row = 0;
    for (const run of batch) {
      const n = run.embedding.dimension;
      for (let k = 0; k < run.request.count; k++, row++) {
        run.embedding.writePhysical(run.request.points, k * n, points, row * p);
      }
    }
    const reply = await evaluateBatch(this.objective, points, total, true, this.counts);
    row = 0;
    for (const run of batch) {
      const n = run.embedding.dimension;
      const count = run.request.count;
      const values = reply.values.slice(row, row + count);
      const gradients = new Float64Array(count * n);
      for (let k = 0; k < count; k++) {
        run.embedding.writeScaledGradient(reply.gradients, (row + k) * p, gradients, k * n);
        if (Number.isFinite(values[k]) && values[k] < this.lowestValue) {
          this.lowestValue = values[k];
          const u = run.request.points.subarray(k * n, (k + 1) * n);
          this.gradientNormAtLowest = projectedGradientNorm(u, gradients.subarray(k * n, (k + 1) * n), run.embedding.lowerU, run.embedding.upperU);
        }
      }
      row += count;
      const answer: PointReply = { values, gradients };
      this.advance(run, run.machine.next(answer));
    }
  }

  /** Steps until every machine (including ones started by completion callbacks) has finished. */
  async run(afterStep?: () => void): Promise<void> {
    while (this.running.length > 0) {
      await this.step();
      afterStep?.();
    }
  }

  private advance(run: Running, next: IteratorResult<PointRequest, unknown>): void {
    if (next.done) {
      run.finish(next.value);
    } else {
      run.request = next.value;
      this.running.push(run);
    }
  }
}
