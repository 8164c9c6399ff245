import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from './helpers/cli.js';
import { type Harness, openHarness } from './helpers/dispatch.js';
import { callKilledAt, expectRecovered, nextCallWithin5s, running } from './helpers/fault.js';
import { commitFiles, openWorkSession, writeConfig } from './helpers/git-plane.js';
import { git } from './helpers/repo.js';

/**
 * merge.main.process killed (SIGKILL) at each step of landing an item: before and after the claim,
 * once the gate worktree exists, while the gate runs, and before and after publishing. The next
 * call, from a fresh process, must succeed at once (not LOCKED for the 900 s lease), requeue the
 * item, stop the orphaned gate and remove its worktree; main never gets the gate-failing change.
 */
const POINTS = [
  'merge.claim.before',
  'merge.claim.after',
  'merge.gate.start',
  'merge.gate.running',
  'merge.publish.before',
  'merge.publish.after',
];

const harnesses: Harness[] = [];
afterAll(() => harnesses.forEach((h) => h.repo.cleanup()));

/** A repository with two queued items: one the gate passes (good.txt), then one it fails (bad.txt). */
async function twoQueuedItems() {
  const h = openHarness();
  harnesses.push(h);
  const markers = join(h.repo.path, '..', 'markers');
  mkdirSync(markers);
  // GATE_SLEEP keeps the gate running in the process that is killed; each run leaves a marker named for its worktree.
  const script = `sleep "\${GATE_SLEEP:-0}"; touch "${markers}/$(basename "$PWD")"; ! ls bad.txt >/dev/null 2>&1`;
  writeConfig(h, { gate: { command: ['bash', '-c', script], timeout_seconds: 60 } });
  const good = await openWorkSession(h, 'good change');
  commitFiles(good.path, { 'good.txt': 'good\n' });
  const bad = await openWorkSession(h, 'bad change');
  commitFiles(bad.path, { 'bad.txt': 'bad\n' });
  const goodItem = (await h.ok('merge.main.request', { session_id: good.sessionId })).main_merge_request.id as number;
  const badItem = (await h.ok('merge.main.request', { session_id: bad.sessionId })).main_merge_request.id as number;
  return { h, markers, good, goodItem, badItem };
}

const onMain = (repo: string) => git(repo, 'ls-tree', '-r', '--name-only', 'main').split('\n');
const stateOf = (h: Harness, id: number) =>
  (h.db().prepare('SELECT state FROM merge_queue WHERE id = ?').get(id) as { state: string }).state;

describe('merge.main.process killed while it lands an item', () => {
  it.each(POINTS)('at %s: the next run succeeds within 5 s, recovers the item and lands only what the gate passed', async (point) => {
    const { h, markers, goodItem, badItem } = await twoQueuedItems();
    callKilledAt(h.repo.path, point, 'merge.main.process', {}, { GATE_SLEEP: point === 'merge.gate.running' ? '30' : '0' });
    const orphanedGate = (
      h.db().prepare('SELECT gate_process FROM merge_queue WHERE id = ?').get(goodItem) as { gate_process: string | null }
    ).gate_process;
    if (point === 'merge.gate.running') expect(running(orphanedGate!)).toBe(true);
    const next = nextCallWithin5s(h.repo.path, 'merge.main.process', {});
    expect(next.queue).toEqual({ gate_failed: 1, merged: 1 });
    expect(stateOf(h, goodItem)).toBe('merged');
    expect(stateOf(h, badItem)).toBe('gate_failed');
    expect(onMain(h.repo.path)).toContain('good.txt');
    expect(onMain(h.repo.path)).not.toContain('bad.txt');
    expectRecovered(h.repo.path);
    if (point === 'merge.gate.running') {
      // The orphaned gate (attempt 1, sleeping 30 s) was stopped: it is gone and never left its marker.
      expect(running(orphanedGate!)).toBe(false);
      expect(existsSync(join(markers, `gate-${goodItem}-1`))).toBe(false);
    }
  });

  it('a new server of the same session recovers its dead processor’s item instead of renewing the stale lock', async () => {
    const { h, good, goodItem } = await twoQueuedItems();
    const env = { CODESTRATOR_SESSION_ID: String(good.sessionId) };
    callKilledAt(h.repo.path, 'merge.gate.running', 'merge.main.process', { max_items: 1 }, { ...env, GATE_SLEEP: '30' });
    const lock = h.db().prepare("SELECT holder_key FROM named_locks WHERE name = 'main-merge'").get() as { holder_key: string };
    expect(lock.holder_key).toBe(`session:${good.sessionId}`);
    const next = nextCallWithin5s<{ processed: { id: number; state: string }[] }>(h.repo.path, 'merge.main.process', { max_items: 1 }, env);
    expect(next.processed).toEqual([expect.objectContaining({ id: goodItem, state: 'merged' })]);
    expectRecovered(h.repo.path);
  });

  it('merge.main.cancel takes an item left checking by a dead processor', async () => {
    const { h, goodItem } = await twoQueuedItems();
    await h.ok('merge.main.status', { request_id: goodItem }); // this process has recovered what there was
    callKilledAt(h.repo.path, 'merge.gate.running', 'merge.main.process', {}, { GATE_SLEEP: '30' });
    expect(stateOf(h, goodItem)).toBe('checking');
    const cancelled = await h.ok('merge.main.cancel', { request_id: goodItem, reason: 'processor died' });
    expect(cancelled.main_merge_request.state).toBe('cancelled');
    // Recovery (here: doctor --apply) stops the gate and removes its worktree.
    const doctor = call<{ findings: { kind: string }[] }>(h.repo.path, 'system.doctor', { apply: true });
    expect(doctor.findings).toEqual([]); // the fresh process's own first call already repaired it
    expectRecovered(h.repo.path);
  });
});
