// One contender of the lock-throughput benchmark, forked by bench/run.js with an IPC channel.
// argv: <repo path> <worker index> <cycles>. It opens its own session through the dispatcher (the
// same entry the MCP server uses) and acts as it with an explicit session_id; it reports
// {type: 'ready'}, waits for {type: 'go'}, runs <cycles> lock.acquire (+ lock.release when granted)
// on overlapping scopes, and reports {type: 'done', ...counts}.
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { createDispatcher } from '../dist/app/services.js';

const [repo, indexArg, cyclesArg] = process.argv.slice(2);
const index = Number(indexArg);
const cycles = Number(cyclesArg);

/** prefix src conflicts with both files; the two files do not conflict with each other. */
const SCOPES = [
  { scope_type: 'prefix', scope_path: 'src' },
  { scope_type: 'file', scope_path: 'src/a.ts' },
  { scope_type: 'file', scope_path: 'src/b.ts' },
];

const dispatcher = createDispatcher(repo, process.env);

async function must(method, params) {
  const outcome = await dispatcher.call(method, params);
  if (!outcome.ok) throw new Error(`${method}: ${outcome.error.error.code} ${outcome.error.error.message}`);
  return outcome.result;
}

const opened = await must('session.open', { always_branch: false, agent_role: `bench-worker-${index}` });
const sessionId = opened.session.id;

async function run() {
  const counts = { grants: 0, conflicts: 0, releases: 0, otherErrors: {}, acquireMs: [] };
  const t0 = performance.now();
  for (let i = 0; i < cycles; i++) {
    const scope = SCOPES[(index + i) % SCOPES.length];
    const start = performance.now();
    const acquired = await dispatcher.call('lock.acquire', { ...scope, session_id: sessionId });
    counts.acquireMs.push(performance.now() - start);
    if (acquired.ok) {
      counts.grants++;
      const released = await dispatcher.call('lock.release', { lock_id: acquired.result.lock.id, session_id: sessionId });
      if (released.ok) counts.releases++;
      else counts.otherErrors[released.error.error.code] = (counts.otherErrors[released.error.error.code] ?? 0) + 1;
    } else if (acquired.error.error.code === 'LOCKED') {
      counts.conflicts++;
    } else {
      counts.otherErrors[acquired.error.error.code] = (counts.otherErrors[acquired.error.error.code] ?? 0) + 1;
    }
  }
  counts.elapsedMs = performance.now() - t0;
  await must('session.close', { session_id: sessionId, reason: 'bench done' });
  return counts;
}

process.once('message', (msg) => {
  if (msg?.type !== 'go') return;
  run().then(
    (counts) => process.send({ type: 'done', index, ...counts }, () => process.disconnect()),
    (err) => process.send({ type: 'failed', index, message: String(err?.stack ?? err) }, () => process.disconnect()),
  );
});
process.send({ type: 'ready', index, sessionId });
