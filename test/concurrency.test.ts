import Database from 'better-sqlite3';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliResult, ROOT, call, cleanEnv, cli, cliAsync } from './helpers/cli.js';
import { type TempRepo, makeRepo } from './helpers/repo.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Worker {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line starting with prefix; rejects if the process exits first. */
  line(prefix: string): Promise<string>;
  exit: Promise<Exit>;
}

const children: ChildProcess[] = [];

/** Starts a fixture script as its own node process in cwd, with a clean environment. */
function startWorker(script: string, args: string[], cwd: string): Worker {
  const child = spawn(process.execPath, [join(FIXTURES, script), ...args], { cwd, env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const line = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const look = () => {
        const found = stdout.split('\n').find((candidate) => candidate.startsWith(prefix));
        if (found === undefined) return false;
        child.stdout!.off('data', look);
        resolve(found);
        return true;
      };
      if (look()) return;
      child.stdout!.on('data', look);
      void exit.then(({ code, signal }) => {
        if (!look()) reject(new Error(`${script} exited (${code ?? signal}) before printing "${prefix}": ${stderr}`));
      });
    });
  return { child, stdout: () => stdout, stderr: () => stderr, line, exit };
}

/** Opens n sessions at once, each by its own CLI process, without worktrees. */
async function openSessions(cwd: string, n: number, extra: Record<string, unknown> = {}): Promise<number[]> {
  const opened = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      cliAsync(cwd, ['call', 'session.open', JSON.stringify({ always_branch: false, user_request: `agent ${i + 1}`, ...extra })]),
    ),
  );
  return opened.map((result) => {
    expect(result.code, result.stderr).toBe(0);
    return (result.json as { session: { id: number } }).session.id;
  });
}

/** epic → feature → test_group → case; returns the case id. */
function createCase(cwd: string, title: string): number {
  const task = (params: Record<string, unknown>) => call<{ task: { id: number } }>(cwd, 'task.create', params).task.id;
  const epic = task({ level: 'epic', title: `${title} epic` });
  const feature = task({ level: 'feature', title: `${title} feature`, parent_id: epic });
  const group = task({ level: 'test_group', title: `${title} group`, parent_id: feature });
  return task({ level: 'case', title, parent_id: group, steps: ['one', 'two'] });
}

const errorCode = (result: CliResult) => (result.json as { error?: { code?: string } } | undefined)?.error?.code;

let repo: TempRepo;
let dbPath: string;

beforeEach(() => {
  repo = makeRepo();
  const init = call<{ db_path?: string }>(repo.path, 'workspace.init');
  dbPath = init.db_path ?? join(repo.path, '.codestrator', 'state.db');
});

afterEach(() => {
  // A failed assertion must not leave workers running.
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  repo.cleanup();
});

interface LockSummary {
  worker: number;
  session_id: number;
  grants: number;
  conflicts: number;
  doubleGrants: number;
  unexpected: number;
  reentrant: number;
  fences: number[];
  errors: unknown[];
  elapsedMs: number;
}

describe('several OS processes on one database', () => {
  it(
    '8 processes × 500 overlapping lock acquires: no double grant, only LOCKED conflicts, unique fences',
    { timeout: 45_000 },
    async () => {
      const WORKERS = 8;
      const ITERATIONS = 500;
      const sessions = await openSessions(repo.path, WORKERS);
      const markers = join(repo.path, '..', 'markers');
      mkdirSync(markers);
      const workers = sessions.map((sessionId, i) =>
        startWorker('lock-worker.mjs', [repo.path, String(sessionId), String(ITERATIONS), markers, String(i + 1)], repo.path),
      );
      await Promise.all(workers.map((worker) => worker.line('ready')));
      const started = performance.now();
      for (const worker of workers) worker.child.stdin!.end('go\n');
      const exits = await Promise.all(workers.map((worker) => worker.exit));
      const seconds = (performance.now() - started) / 1000;

      const summaries = workers.map((worker, i) => {
        expect(exits[i], worker.stderr()).toEqual({ code: 0, signal: null });
        const last = worker.stdout().trim().split('\n').pop()!;
        return JSON.parse(last) as LockSummary;
      });
      const total = (key: 'grants' | 'conflicts' | 'doubleGrants' | 'unexpected' | 'reentrant') =>
        summaries.reduce((sum, s) => sum + s[key], 0);
      const grants = total('grants');
      const conflicts = total('conflicts');
      console.log(
        `locks: ${WORKERS * ITERATIONS} acquires (${grants} granted, ${conflicts} LOCKED) + ${grants} releases by ${WORKERS} processes ` +
          `in ${seconds.toFixed(2)} s = ${((WORKERS * ITERATIONS + grants) / seconds).toFixed(0)} acquire+release calls/s, ` +
          `${(grants / seconds).toFixed(0)} grant/release cycles/s`,
      );
      for (const s of summaries) {
        expect(s.errors, `worker ${s.worker}`).toEqual([]);
        expect(s.grants + s.conflicts, `worker ${s.worker}`).toBe(ITERATIONS);
      }
      expect(total('doubleGrants')).toBe(0);
      expect(total('unexpected')).toBe(0);
      expect(total('reentrant')).toBe(0);
      expect(grants).toBeGreaterThan(0);
      expect(conflicts).toBeGreaterThan(0);

      // Fencing tokens: one per grant, unique across processes, increasing within each process.
      const fences = summaries.flatMap((s) => s.fences);
      expect(fences).toHaveLength(grants);
      expect(new Set(fences).size).toBe(grants);
      for (const s of summaries) {
        for (let i = 1; i < s.fences.length; i++) expect(s.fences[i]!, `worker ${s.worker}`).toBeGreaterThan(s.fences[i - 1]!);
      }

      // The database agrees: one row and one fence per grant, every lock released, no marker left.
      const db = new Database(dbPath, { readonly: true });
      try {
        expect(db.prepare('SELECT lock_fence FROM meta WHERE id = 1').pluck().get()).toBe(grants);
        expect(db.prepare('SELECT count(*) FROM locks').pluck().get()).toBe(grants);
        expect(db.prepare("SELECT count(*) FROM locks WHERE state = 'active'").pluck().get()).toBe(0);
        expect(db.prepare('SELECT max(fence) FROM locks').pluck().get()).toBe(Math.max(...fences));
      } finally {
        db.close();
      }
      expect(readdirSync(markers)).toEqual([]);
    },
  );

  it('8 processes racing case.begin on one case: exactly one winner, 7 CONFLICT', { timeout: 30_000 }, async () => {
    const sessions = await openSessions(repo.path, 8);
    const caseId = createCase(repo.path, 'contended case');
    const results = await Promise.all(
      sessions.map((sessionId) => cliAsync(repo.path, ['call', 'case.begin', JSON.stringify({ case_id: caseId, session_id: sessionId })])),
    );
    const winners = results.flatMap((result, i) => (result.code === 0 ? [sessions[i]!] : []));
    expect(winners, results.map((r) => r.stderr).join('\n')).toHaveLength(1);
    const losers = results.filter((result) => result.code !== 0);
    expect(losers.map((result) => [result.code, errorCode(result)])).toEqual(Array.from({ length: 7 }, () => [1, 'CONFLICT']));

    const task = call<{ task: { status: string; owner_key: string } }>(repo.path, 'task.get', { task_id: caseId }).task;
    expect(task).toMatchObject({ status: 'in_progress', owner_key: `session:${winners[0]}` });
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) FROM checkpoints WHERE case_id = ? AND event = 'case.begin'").pluck().get(caseId)).toBe(1);
      expect(db.prepare("SELECT owner_key FROM current_refs WHERE case_id = ? AND status = 'active'").pluck().all(caseId)).toEqual([
        `session:${winners[0]}`,
      ]);
    } finally {
      db.close();
    }
  });

  it('2 processes racing resume.candidates.attach on one suspended session: one winner, one CONFLICT', { timeout: 30_000 }, async () => {
    const [target] = await openSessions(repo.path, 1, { heartbeat_timeout_seconds: 10 });
    const requesters = await openSessions(repo.path, 2);
    const caseId = createCase(repo.path, 'suspended case');
    call(repo.path, 'case.begin', { case_id: caseId, session_id: target });
    // Fixture step: the target went silent a minute ago (past its 10 s heartbeat timeout).
    const fixture = new Database(dbPath, { timeout: 5000 });
    try {
      expect(fixture.prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?').run(Date.now() - 60_000, target).changes).toBe(1);
    } finally {
      fixture.close();
    }
    const listed = call<{ items: { session: { id: number } }[] }>(repo.path, 'resume.candidates.list', {
      requester_session_id: requesters[0],
    });
    expect(listed.items.map((item) => item.session.id)).toEqual([target]);

    const results = await Promise.all(
      requesters.map((requester) =>
        cliAsync(repo.path, [
          'call',
          'resume.candidates.attach',
          JSON.stringify({ requester_session_id: requester, target_session_id: target }),
        ]),
      ),
    );
    const winners = results.flatMap((result, i) => (result.code === 0 ? [requesters[i]!] : []));
    expect(winners, results.map((r) => r.stderr).join('\n')).toHaveLength(1);
    const loser = results.find((result) => result.code !== 0)!;
    expect([loser.code, errorCode(loser)]).toEqual([1, 'CONFLICT']);

    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare('SELECT status, taken_over_by FROM sessions WHERE id = ?').get(target)).toEqual({
        status: 'handoff_attached',
        taken_over_by: winners[0],
      });
      expect(db.prepare('SELECT from_session_id, to_session_id FROM session_handoffs').all()).toEqual([
        { from_session_id: target, to_session_id: winners[0] },
      ]);
      expect(db.prepare('SELECT owner_key FROM tasks WHERE id = ?').pluck().get(caseId)).toBe(`session:${winners[0]}`);
      expect(db.prepare("SELECT owner_key FROM current_refs WHERE case_id = ? AND status = 'active'").pluck().all(caseId)).toEqual([
        `session:${winners[0]}`,
      ]);
    } finally {
      db.close();
    }
  });

  it('SIGKILL in the middle of ledger writes leaves a sound database and no half-written case', { timeout: 40_000 }, async () => {
    // Three writers in turn, each killed after some writes; each later one opens the crashed file.
    const KILL_AFTER_MS = [1500, 1100, 700];
    const writers: number[] = [];
    for (const ms of KILL_AFTER_MS) {
      const writer = startWorker('ledger-writer.mjs', [repo.path], repo.path);
      const ready = await writer.line('ready');
      writers.push(Number(ready.split(' ')[1]));
      await sleep(ms);
      expect(writer.child.kill('SIGKILL')).toBe(true);
      // It was killed, not stopped by a failed call.
      expect(await writer.exit, writer.stderr()).toEqual({ code: null, signal: 'SIGKILL' });
    }

    interface CaseRow {
      id: number;
      status: string;
      owner_key: string | null;
      group_title: string;
    }
    const db = new Database(dbPath, { timeout: 5000 });
    let inProgress: CaseRow[];
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('foreign_key_check')).toEqual([]);
      const count = (sql: string, ...params: unknown[]) =>
        db
          .prepare(sql)
          .pluck()
          .get(...params) as number;
      const cases = db
        .prepare(
          "SELECT t.id, t.status, t.owner_key, g.title AS group_title FROM tasks t JOIN tasks g ON g.id = t.parent_id WHERE t.level = 'case' ORDER BY t.id",
        )
        .all() as CaseRow[];
      const done = cases.filter((row) => row.status === 'done');
      inProgress = cases.filter((row) => row.status === 'in_progress');
      const todo = cases.filter((row) => row.status === 'todo');
      console.log(
        `SIGKILL ×${KILL_AFTER_MS.length} (after ${KILL_AFTER_MS.join(', ')} ms): ${cases.length} cases ` +
          `(${done.length} done, ${inProgress.length} in progress, ${todo.length} todo), ` +
          `${count('SELECT count(*) FROM steps')} steps, ${count('SELECT count(*) FROM checkpoints')} checkpoints`,
      );
      expect(cases.length).toBe(done.length + inProgress.length + todo.length);

      for (const sessionId of writers) {
        // Each writer works on one case at a time: all its cases but the last are done.
        const own = cases.filter((row) => row.group_title === `crash group ${sessionId}`);
        expect(own.length, `writer session ${sessionId}`).toBeGreaterThan(1);
        expect(own.slice(0, -1).filter((row) => row.status !== 'done')).toEqual([]);
        const last = own[own.length - 1]!;
        // Its current ref points at its unfinished case, or is closed when every case it began is done.
        const ref = db.prepare('SELECT status, case_id FROM current_refs WHERE owner_key = ?').get(`session:${sessionId}`);
        if (last.status === 'in_progress') {
          expect(last.owner_key).toBe(`session:${sessionId}`);
          expect(ref).toEqual({ status: 'active', case_id: last.id });
        } else {
          const lastDone = own.filter((row) => row.status === 'done').pop()!;
          expect(ref).toEqual({ status: 'completed', case_id: lastDone.id });
        }
      }

      for (const row of inProgress) {
        expect(row.owner_key, `case ${row.id}`).not.toBeNull();
        expect(count("SELECT count(*) FROM checkpoints WHERE case_id = ? AND event = 'case.begin'", row.id)).toBe(1);
        expect(
          count("SELECT count(*) FROM current_refs WHERE owner_key = ? AND status = 'active' AND case_id = ?", row.owner_key, row.id),
        ).toBe(1);
      }
      expect(db.prepare('SELECT s.id FROM steps s LEFT JOIN checkpoints c ON c.step_id = s.id WHERE c.id IS NULL').all()).toEqual([]);
      expect(
        db
          .prepare(
            "SELECT t.id FROM tasks t WHERE t.level = 'case' AND t.status = 'done' AND NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.case_id = t.id AND c.event = 'case.complete')",
          )
          .all(),
      ).toEqual([]);
      for (const row of cases) {
        const steps = count('SELECT count(*) FROM steps WHERE case_id = ?', row.id);
        const stepCheckpoints = count("SELECT count(*) FROM checkpoints WHERE case_id = ? AND event = 'step.check'", row.id);
        const begins = count("SELECT count(*) FROM checkpoints WHERE case_id = ? AND event = 'case.begin'", row.id);
        const completes = count("SELECT count(*) FROM checkpoints WHERE case_id = ? AND event = 'case.complete'", row.id);
        const maxOrder = count('SELECT coalesce(max(order_no), 0) FROM steps WHERE case_id = ?', row.id);
        const label = `case ${row.id} (${row.status})`;
        expect(stepCheckpoints, label).toBe(steps);
        expect(maxOrder, label).toBe(steps);
        if (row.status === 'done') expect([steps, begins, completes], label).toEqual([3, 1, 1]);
        if (row.status === 'in_progress') {
          expect(steps, label).toBeLessThanOrEqual(3);
          expect([begins, completes], label).toEqual([1, 0]);
        }
        if (row.status === 'todo') expect([steps, begins, completes], label).toEqual([0, 0, 0]);
      }
    } finally {
      db.close();
    }

    // The server still works on the same file: status reads it, and the interrupted cases can be finished.
    const status = cli(repo.path, ['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const view = status.json as { sessions: unknown[]; cases_in_progress: { id: number }[] };
    expect(view.cases_in_progress.map((row) => row.id)).toEqual(inProgress.map((row) => row.id));
    for (const row of inProgress) {
      const completed = call<{ case: { status: string } }>(repo.path, 'case.complete', {
        case_id: row.id,
        summary: 'finished after the crash',
        next_action: 'none',
        session_id: Number(row.owner_key!.split(':')[1]),
      });
      expect(completed.case.status).toBe('done');
    }
    expect(call<{ task: { id: number } }>(repo.path, 'task.create', { level: 'epic', title: 'after the crash' }).task.id).toBeGreaterThan(
      0,
    );
  });
});
