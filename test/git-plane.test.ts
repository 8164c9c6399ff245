import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliAsync } from './helpers/cli.js';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { checkoutState, commitFiles, openWorkSession, writeConfig } from './helpers/git-plane.js';
import { git } from './helpers/repo.js';

const harnesses: Harness[] = [];
const fresh = () => {
  const h = openHarness();
  harnesses.push(h);
  return h;
};
afterAll(() => harnesses.forEach((h) => h.repo.cleanup()));

const mergesOnMain = (h: Harness) => git(h.repo.path, 'log', '--merges', '--format=%s', 'main').split('\n').filter(Boolean);

/** A gate that appends one line per run to a counter file, then exits with `code`. */
const countingGate = (counter: string, code = 0) => [
  process.execPath,
  '-e',
  `require('fs').appendFileSync(${JSON.stringify(counter)}, 'run\\n'); console.log('gate output line'); process.exit(${code})`,
];

async function spawnChild(h: Harness, sessionId: number, name: string) {
  const spawned = await h.ok('worktree.spawn', { name, session_id: sessionId });
  return spawned.worktree as { id: number; path: string; branch: string };
}

describe('main-merge queue', () => {
  it('lands two children that change different files, running the gate once per item, and moves the main checkout', async () => {
    const h = fresh();
    const counter = join(h.repo.path, '..', 'gate-count');
    writeConfig(h, { gate: { command: countingGate(counter) } });
    const s = await openWorkSession(h, 'parallel work');
    const a = await spawnChild(h, s.sessionId, 'alpha');
    const b = await spawnChild(h, s.sessionId, 'beta');
    commitFiles(a.path, { 'src/alpha.ts': 'export const alpha = 1;\n' }, 'alpha');
    commitFiles(b.path, { 'src/beta.ts': 'export const beta = 2;\n' }, 'beta');
    const first = await h.ok('merge.main.request', { from_worktree_id: a.id, session_id: s.sessionId });
    await h.ok('merge.main.request', { from_worktree_id: b.id, session_id: s.sessionId });
    expect((await h.ok('merge.main.request', { from_worktree_id: a.id, session_id: s.sessionId })).already_queued).toBe(true);
    const run = await h.ok('merge.main.process');
    expect(run.processed.map((item: { state: string }) => item.state)).toEqual(['merged', 'merged']);
    expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(mergesOnMain(h)).toHaveLength(2);
    const main = checkoutState(h.repo.path);
    expect(main.head).toBe(git(h.repo.path, 'rev-parse', 'main').trim());
    expect(main.status).toBe('');
    expect(readFileSync(join(h.repo.path, 'src/alpha.ts'), 'utf8')).toContain('alpha');
    expect(readFileSync(join(h.repo.path, 'src/beta.ts'), 'utf8')).toContain('beta');
    const status = await h.ok('merge.main.status', { request_id: first.main_merge_request.id });
    expect(status.main_merge_request).toMatchObject({ state: 'merged', gate_log_tail: expect.stringContaining('gate output line') });
  });

  it('lands the first of two children changing the same lines and reports the second as a conflict, touching no checkout', async () => {
    const h = fresh();
    const s = await openWorkSession(h, 'conflicting work');
    const a = await spawnChild(h, s.sessionId, 'left');
    const b = await spawnChild(h, s.sessionId, 'right');
    commitFiles(a.path, { 'README.md': '# left version\n' }, 'left');
    commitFiles(b.path, { 'README.md': '# right version\n' }, 'right');
    const before = [h.repo.path, a.path, b.path, s.path].map(checkoutState);
    await h.ok('merge.main.request', { from_worktree_id: a.id, session_id: s.sessionId });
    const second = await h.ok('merge.main.request', { from_worktree_id: b.id, session_id: s.sessionId });
    const run = await h.ok('merge.main.process');
    expect(run.processed.map((item: { state: string }) => item.state)).toEqual(['merged', 'conflict']);
    const conflict = (await h.ok('merge.main.status', { request_id: second.main_merge_request.id })).main_merge_request;
    expect(conflict.conflict_files).toEqual(['README.md']);
    expect(conflict.reason).toContain('README.md');
    const after = [h.repo.path, a.path, b.path, s.path].map(checkoutState);
    // Only the main checkout moved (to the first merge); nothing else changed, and no merge is left open anywhere.
    expect(after.slice(1)).toEqual(before.slice(1));
    expect(after[0]!.status).toBe('');
    expect(after.every((state) => !state.mergeHead)).toBe(true);
    expect(readFileSync(join(h.repo.path, 'README.md'), 'utf8')).toBe('# left version\n');
  });

  it('leaves the target where it was when the gate fails, with the log tail', async () => {
    const h = fresh();
    const counter = join(h.repo.path, '..', 'gate-fail-count');
    writeConfig(h, { gate: { command: countingGate(counter, 3) } });
    const s = await openWorkSession(h, 'gated work');
    commitFiles(s.path, { 'lib.ts': 'broken\n' }, 'broken');
    const tip = git(h.repo.path, 'rev-parse', 'main').trim();
    const item = await h.ok('merge.main.request', { session_id: s.sessionId });
    await h.ok('merge.main.process');
    const failed = (await h.ok('merge.main.status', { request_id: item.main_merge_request.id })).main_merge_request;
    expect(failed).toMatchObject({ state: 'gate_failed', reason: 'gate exited with 3' });
    expect(failed.gate_log_tail).toContain('gate output line');
    expect(readFileSync(failed.gate_log_path, 'utf8')).toContain('gate output line');
    expect(git(h.repo.path, 'rev-parse', 'main').trim()).toBe(tip);
    expect(git(h.repo.path, 'worktree', 'list')).not.toContain('gate-');
  });

  it('waits while the main checkout has uncommitted changes, losing nothing, and lands once it is clean', async () => {
    const h = fresh();
    const s = await openWorkSession(h, 'patient work');
    commitFiles(s.path, { 'feature.ts': 'done\n' }, 'feature');
    const item = (await h.ok('merge.main.request', { session_id: s.sessionId })).main_merge_request;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(h.repo.path, 'README.md'), '# user edit in progress\n');
    await h.ok('merge.main.process');
    const waiting = (await h.ok('merge.main.status', { request_id: item.id })).main_merge_request;
    expect(waiting.state).toBe('waiting');
    expect(waiting.reason).toContain('README.md');
    expect(readFileSync(join(h.repo.path, 'README.md'), 'utf8')).toBe('# user edit in progress\n');
    git(h.repo.path, 'checkout', '--', 'README.md');
    await h.ok('merge.main.process');
    expect((await h.ok('merge.main.status', { request_id: item.id })).main_merge_request.state).toBe('merged');
    expect(readFileSync(join(h.repo.path, 'feature.ts'), 'utf8')).toBe('done\n');
  });

  it('lands items one at a time when two processes process the queue at once: none twice, none lost', async () => {
    const h = fresh();
    const counter = join(h.repo.path, '..', 'slow-gate');
    writeConfig(h, {
      gate: {
        command: [process.execPath, '-e', `require('fs').appendFileSync(${JSON.stringify(counter)}, 'x\\n'); setTimeout(() => {}, 150)`],
      },
    });
    const s = await openWorkSession(h, 'many items');
    const ids: number[] = [];
    for (const name of ['one', 'two', 'three', 'four']) {
      const child = await spawnChild(h, s.sessionId, name);
      commitFiles(child.path, { [`${name}.txt`]: `${name}\n` }, name);
      ids.push((await h.ok('merge.main.request', { from_worktree_id: child.id, session_id: s.sessionId })).main_merge_request.id);
    }
    const runs = await Promise.all(
      [0, 1].map(() => cliAsync(h.repo.path, ['call', 'merge.main.process', JSON.stringify({ wait_seconds: 60 })])),
    );
    expect(runs.map((run) => run.code)).toEqual([0, 0]);
    const processed = runs.flatMap((run) => (run.json as { processed: { id: number; state: string }[] }).processed);
    expect(processed.map((item) => item.id).sort()).toEqual(ids);
    expect(processed.every((item) => item.state === 'merged')).toBe(true);
    expect(mergesOnMain(h)).toHaveLength(4);
    expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(4);
    const commits = new Set(processed.map((item) => (item as unknown as { merge_commit: string }).merge_commit));
    expect(commits.size).toBe(4);
  });

  it('refuses an item touching a path locked by another live owner until the lock goes', async () => {
    const h = fresh();
    const s = await openWorkSession(h, 'locked work');
    const other = (await h.ok('session.open', { always_branch: false })).session.id;
    const lock = await h.ok('lock.acquire', { scope_type: 'file', scope_path: 'shared.ts', session_id: other });
    commitFiles(s.path, { 'shared.ts': 'mine\n' }, 'touch shared');
    const item = (await h.ok('merge.main.request', { session_id: s.sessionId })).main_merge_request;
    await h.ok('merge.main.process');
    const waiting = (await h.ok('merge.main.status', { request_id: item.id })).main_merge_request;
    expect(waiting).toMatchObject({ state: 'waiting' });
    expect(waiting.reason).toContain(`lock ${lock.lock.id}`);
    await h.ok('lock.release', { lock_id: lock.lock.id, session_id: other });
    await h.ok('merge.main.process');
    expect((await h.ok('merge.main.status', { request_id: item.id })).main_merge_request.state).toBe('merged');
  });

  it('can cancel an item, and gives the main-merge lock a lease, a holder, re-entry and takeover after expiry', async () => {
    const h = fresh();
    const a = (await h.ok('session.open', { always_branch: false })).session.id;
    const b = (await h.ok('session.open', { always_branch: false })).session.id;
    const taken = await h.ok('merge.main.acquire_lock', { ttl_seconds: 1, session_id: a });
    expect(taken).toMatchObject({ reentered: false, lock: { holder: `session:${a}`, held: true } });
    expect((await h.ok('merge.main.acquire_lock', { ttl_seconds: 1, session_id: a })).reentered).toBe(true);
    const refused = await h.fail('merge.main.acquire_lock', { session_id: b });
    expect(refused.code).toBe('LOCKED');
    expect(refused.message).toContain(`session:${a}`);
    expect((await h.fail('merge.main.process', { session_id: b })).code).toBe('LOCKED');
    expect((await h.fail('merge.main.release_lock', { session_id: b })).code).toBe('NOT_OWNER');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await h.ok('merge.main.acquire_lock', { session_id: b })).lock.holder).toBe(`session:${b}`);
    expect((await h.ok('merge.main.release_lock', { session_id: b })).released).toBe(true);
    const s = await openWorkSession(h, 'cancel me');
    commitFiles(s.path, { 'x.txt': 'x\n' });
    const item = (await h.ok('merge.main.request', { session_id: s.sessionId })).main_merge_request;
    expect((await h.ok('merge.main.cancel', { request_id: item.id, reason: 'superseded' })).main_merge_request.state).toBe('cancelled');
    expect((await h.fail('merge.main.cancel', { request_id: item.id, reason: 'again' })).code).toBe('PRECONDITION_FAILED');
  });
});

describe('review gate', () => {
  it('holds an item as blocked_by_review until its merge request is approved', async () => {
    const h = fresh();
    writeConfig(h, { review_required: true });
    const s = await openWorkSession(h, 'reviewed work');
    const epic = await h.ok('task.create', { level: 'epic', title: 'E' });
    const feature = await h.ok('task.create', { level: 'feature', title: 'F', parent_id: epic.task.id });
    commitFiles(s.path, { 'reviewed.ts': 'ok\n' });
    const unreviewed = (await h.ok('merge.main.request', { session_id: s.sessionId })).main_merge_request;
    await h.ok('merge.main.process');
    expect((await h.ok('merge.main.status', { request_id: unreviewed.id })).main_merge_request.state).toBe('blocked_by_review');
    await h.ok('merge.main.cancel', { request_id: unreviewed.id, reason: 'needs a merge request' });
    const mr = (await h.ok('merge.request', { feature_task_id: feature.task.id, session_id: s.sessionId })).merge_request;
    const item = (await h.ok('merge.main.request', { merge_request_id: mr.id, auto_review: false, session_id: s.sessionId }))
      .main_merge_request;
    await h.ok('merge.main.process');
    expect((await h.ok('merge.main.status', { request_id: item.id })).main_merge_request.state).toBe('blocked_by_review');
    const tip = git(h.repo.path, 'rev-parse', 'main').trim();
    await h.ok('merge.review.submit', {
      merge_request_id: mr.id,
      verdict: 'BLOCK',
      findings: [{ file: 'reviewed.ts', line: 1, severity: 'major', text: 'needs a test' }],
    });
    await h.ok('merge.main.process');
    expect(git(h.repo.path, 'rev-parse', 'main').trim()).toBe(tip);
    const approved = await h.ok('merge.review.submit', { merge_request_id: mr.id, verdict: 'APPROVE', summary: 'fine now' });
    expect(approved.queue_items_updated).toBe(1);
    await h.ok('merge.main.process');
    expect((await h.ok('merge.main.status', { request_id: item.id })).main_merge_request.state).toBe('merged');
    expect((await h.ok('merge.request.get', { merge_request_id: mr.id })).merge_request.status).toBe('merged');
  });
});

describe('worktree.merge_to_parent', () => {
  it('refuses uncommitted work (naming the files) unless asked to commit it, then merges into the parent', async () => {
    const h = fresh();
    const s = await openWorkSession(h, 'parent work');
    const child = await spawnChild(h, s.sessionId, 'kid');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(child.path, 'new.ts'), 'new\n');
    const refused = await h.fail('worktree.merge_to_parent', { worktree_id: child.id, session_id: s.sessionId });
    expect(refused).toMatchObject({ code: 'PRECONDITION_FAILED', data: { dirty_paths: ['new.ts'] } });
    const merged = await h.ok('worktree.merge_to_parent', { worktree_id: child.id, commit_changes: true, session_id: s.sessionId });
    expect(merged.result).toBe('merged');
    expect(readFileSync(join(s.path, 'new.ts'), 'utf8')).toBe('new\n');
    expect(checkoutState(s.path).status).toBe('');
    expect(git(s.path, 'log', '-1', '--format=%P').trim().split(' ')).toHaveLength(2);
  });

  it('on conflict returns the paths and leaves both checkouts exactly as they were', async () => {
    const h = fresh();
    const s = await openWorkSession(h, 'parent conflict');
    const child = await spawnChild(h, s.sessionId, 'kid');
    commitFiles(child.path, { 'README.md': 'child\n' });
    commitFiles(s.path, { 'README.md': 'parent\n' });
    const before = [s.path, child.path].map(checkoutState);
    const error = await h.fail('worktree.merge_to_parent', { worktree_id: child.id, session_id: s.sessionId });
    expect(error).toMatchObject({ code: 'CONFLICT', data: { conflicting_paths: ['README.md'] } });
    expect([s.path, child.path].map(checkoutState)).toEqual(before);
  });

  it('refuses while the parent checkout has uncommitted changes', async () => {
    const h = fresh();
    const s = await openWorkSession(h, 'dirty parent');
    const child = await spawnChild(h, s.sessionId, 'kid');
    commitFiles(child.path, { 'a.ts': 'a\n' });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(s.path, 'README.md'), 'parent edit\n');
    const error = await h.fail('worktree.merge_to_parent', { worktree_id: child.id, session_id: s.sessionId });
    expect(error.code).toBe('PRECONDITION_FAILED');
    expect(error.message).toContain('README.md');
    expect(readFileSync(join(s.path, 'README.md'), 'utf8')).toBe('parent edit\n');
  });

  it('serialises two merges into one parent from different processes', async () => {
    const h = fresh();
    const s = await openWorkSession(h, 'busy parent');
    const kids = [await spawnChild(h, s.sessionId, 'one'), await spawnChild(h, s.sessionId, 'two')];
    kids.forEach((kid, i) => commitFiles(kid.path, { [`kid${i}.ts`]: `${i}\n` }));
    const runs = await Promise.all(
      kids.map((kid) => cliAsync(h.repo.path, ['call', 'worktree.merge_to_parent', JSON.stringify({ worktree_id: kid.id })])),
    );
    expect(runs.map((run) => run.code)).toEqual([0, 0]);
    expect(readFileSync(join(s.path, 'kid0.ts'), 'utf8')).toBe('0\n');
    expect(readFileSync(join(s.path, 'kid1.ts'), 'utf8')).toBe('1\n');
    expect(checkoutState(s.path).status).toBe('');
  });
});

describe('names are data', () => {
  it('handles branch names with quotes and $(…), refuses leading dashes, and slugs hostile names', async () => {
    const h = fresh();
    const s = await openWorkSession(h, 'hostile');
    // ${IFS} would make this `touch pwned` if any shell ever saw it.
    const branch = 'feat/it\'s-"$(touch${IFS}pwned)"';
    const created = await h.ok('worktree.spawn', { branch, name: '--help $(touch pwned) "quoted" name', session_id: s.sessionId });
    expect(created.worktree.branch).toBe(branch);
    expect(created.worktree.slug).toBe('help-touch');
    commitFiles(created.worktree.path, { 'h.txt': 'h\n' });
    expect((await h.ok('worktree.merge_to_parent', { worktree_id: created.worktree.id, session_id: s.sessionId })).result).toBe('merged');
    expect((await h.fail('worktree.create', { branch: '-rf' })).field).toBe('branch');
    expect((await h.fail('worktree.create', { branch: 'has space' })).field).toBe('branch');
    expect((await h.fail('merge.main.request', { from_worktree_id: s.worktreeId, target_branch: '--force' })).field).toBe('target_branch');
    expect(git(h.repo.path, 'ls-files', '--others').includes('pwned')).toBe(false);
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(h.repo.path, 'pwned')) || existsSync(join(created.worktree.path, 'pwned')) || existsSync('pwned')).toBe(false);
  });
});

describe('worktree.conflicts', () => {
  it('predicts conflicting pairs and branch-vs-target conflicts without touching checkouts', async () => {
    const h = fresh();
    const s = await openWorkSession(h, 'predict');
    const a = await spawnChild(h, s.sessionId, 'a');
    const b = await spawnChild(h, s.sessionId, 'b');
    const c = await spawnChild(h, s.sessionId, 'c');
    commitFiles(a.path, { 'README.md': 'A\n', 'shared.ts': 'line1\nline2 a\nline3\n' });
    commitFiles(b.path, { 'README.md': 'B\n' });
    commitFiles(c.path, { 'other.ts': 'c\n' });
    commitFiles(h.repo.path, { 'README.md': 'main moved\n' });
    const before = [a.path, b.path, c.path, h.repo.path].map(checkoutState);
    const report = await h.ok('worktree.conflicts');
    const pair = report.pairs.find((p: { a: number; b: number }) => p.a === a.id && p.b === b.id);
    expect(pair.conflict_files).toEqual(['README.md']);
    expect(report.pairs.some((p: { a: number; b: number }) => p.a === c.id || p.b === c.id)).toBe(false);
    const vsTarget = Object.fromEntries(
      report.branches.map((x: { worktree_id: number; conflicts_with_target: string[] }) => [x.worktree_id, x.conflicts_with_target]),
    );
    expect(vsTarget[a.id]).toEqual(['README.md']);
    expect(vsTarget[c.id]).toEqual([]);
    expect([a.path, b.path, c.path, h.repo.path].map(checkoutState)).toEqual(before);
  });
});

describe('scheduler.decide_worktree with paths', () => {
  it('counts paths that another session’s active branch already changed', async () => {
    const h = fresh();
    const a = await openWorkSession(h, 'first');
    const b = await openWorkSession(h, 'second');
    commitFiles(a.path, { 'src/engine/core.ts': 'changed\n' });
    const decision = await h.ok('scheduler.decide_worktree', { paths: ['src/engine', 'docs/readme.md'], session_id: b.sessionId });
    expect(decision.changed_on_other_branches).toEqual([{ path: 'src/engine', worktree_ids: [a.worktreeId] }]);
    expect(decision.score).toBe(2 + 2);
    const own = await h.ok('scheduler.decide_worktree', { paths: ['src/engine'], session_id: a.sessionId });
    expect(own.changed_on_other_branches).toEqual([]);
  });
});
