import { abandonJournal, finishJournal, repairInterruptedPublishes, startJournal } from './checkout-journal.js';
import type { CoreContext } from './context.js';
import { checkpoint } from './holders.js';
import { gitStep } from './worktree-create.js';

export type PublishOutcome =
  | { ok: true; checkout: string | null }
  | { ok: false; why: 'moved' }
  | { ok: false; why: 'dirty' | 'checkout_changed'; checkout: string; paths: string[] };

/**
 * Publishes `to` on `branch`: a compare-and-swap from `from` (refused if the branch moved), and,
 * when the branch is checked out somewhere, that checkout is brought along — only if it has no
 * changes to tracked files (untracked files are safe: git refuses to overwrite them). If the
 * checkout cannot follow, the branch is moved back, so every checkout stays exactly as it was.
 * The update is journaled before the branch moves (checkout-journal.ts): a crash at any point
 * leaves either nothing or a journal that the next publish, queue run or recovery finishes.
 */
export async function publishBranch(
  ctx: CoreContext,
  input: { branch: string; from: string; to: string; reason: string },
): Promise<PublishOutcome> {
  await repairInterruptedPublishes(ctx);
  const checkout = (await gitStep('list worktrees', ctx.git.checkedOutBranches())).get(input.branch) ?? null;
  if (checkout) {
    const paths = await gitStep(`read the status of ${checkout}`, ctx.git.dirtyPaths(checkout, { untracked: false }));
    if (paths.length > 0) return { ok: false, why: 'dirty', checkout, paths };
  }
  const journal = checkout ? startJournal(ctx, { ...input, checkout }) : null;
  let outcome: PublishOutcome;
  try {
    outcome = await moveAndFollow(ctx, input, checkout);
  } catch (err) {
    // Kept for the next repair, which finds where the branch and the checkout are.
    if (journal) abandonJournal(journal);
    throw err;
  }
  if (journal) finishJournal(ctx, journal);
  return outcome;
}

async function moveAndFollow(
  ctx: CoreContext,
  input: { branch: string; from: string; to: string; reason: string },
  checkout: string | null,
): Promise<PublishOutcome> {
  checkpoint(ctx, 'publish.before-ref-move');
  if (!(await gitStep(`update ${input.branch}`, ctx.git.updateBranch(input.branch, input.to, input.from, input.reason)))) {
    return { ok: false, why: 'moved' };
  }
  checkpoint(ctx, 'publish.after-ref-move');
  if (checkout && !(await ctx.git.advanceCheckout(checkout, input.from, input.to))) {
    await ctx.git.updateBranch(input.branch, input.from, input.to, 'codestrator: undo publish, checkout changed');
    const paths = await ctx.git.dirtyPaths(checkout).catch(() => []);
    return { ok: false, why: 'checkout_changed', checkout, paths };
  }
  checkpoint(ctx, 'publish.after-checkout');
  return { ok: true, checkout };
}
