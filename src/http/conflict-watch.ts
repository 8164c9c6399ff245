import type { WireError } from '../core/errors.js';
import type { Dispatcher } from '../registry/dispatch.js';

/** The conflict matrix as last computed, with when. */
export interface ConflictState {
  report: Record<string, unknown> | null;
  error: WireError['error'] | null;
  computed_at: number | null;
}

/**
 * worktree.conflicts runs git merge-tree for every branch and overlapping pair: far dearer than the
 * ledger reads, so it runs in the background at most every `intervalMs` (or at once after an
 * action), never inside a snapshot tick, and never twice at the same time.
 */
export class ConflictWatch {
  private state: ConflictState = { report: null, error: null, computed_at: null };
  private running: Promise<void> | undefined;
  private dirty = false;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly onUpdate: () => void,
    private readonly intervalMs = 5000,
  ) {}

  /** The latest result; starts a recompute when it is stale or was asked for. */
  current(): ConflictState {
    const stale = this.state.computed_at === null || Date.now() - this.state.computed_at >= this.intervalMs;
    if (stale || this.dirty) this.start();
    return this.state;
  }

  /** Recompute at the next chance (an action may have moved a branch). */
  invalidate(): void {
    this.dirty = true;
  }

  /** Resolves once no computation is running (for close()). */
  async settle(): Promise<void> {
    await this.running;
  }

  private start(): void {
    if (this.running) return;
    this.dirty = false;
    this.running = this.dispatcher
      .call('worktree.conflicts', {})
      .then((outcome) => {
        this.state = outcome.ok
          ? { report: outcome.result, error: null, computed_at: Date.now() }
          : { report: this.state.report, error: outcome.error.error, computed_at: Date.now() };
      })
      .finally(() => {
        this.running = undefined;
        this.onUpdate();
      });
  }
}
