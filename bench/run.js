#!/usr/bin/env node
// `npm run bench`: latency, cold start and lock throughput of the built codestrator, next to a
// bare MCP SDK server (bench/bare-server.js) measured in the same run with the same client code.
// It prints figures and the targets they are meant to meet; it never fails on timing.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { gitPlaneSection } from './git-plane.js';
import { runtimeSection } from './runtime.js';
import { BARE_SERVER, BIN, LOCK_WORKER, ROOT, cleanEnv, coldStart, int, makeRepo, ms, nodeFloor, ratio, summarize, table } from './lib.js';

const CONFIG = {
  seedTasks: 200,
  warmup: 200,
  iterations: 2000,
  /**
   * The measured iterations are split into rounds; each round runs every row once, in a new random
   * order. A ping-pong's latency depends on what ran just before (how deeply each process's CPU
   * went idle), so a fixed order would favour whichever row follows a kind neighbour.
   */
  rounds: 20,
  coldStarts: 15,
  lockWorkers: 8,
  lockCycles: 1500,
};

const TARGET_RATIO = 1.5;
const TARGET_COLD_START_MS = 300;

/** `npm run bench -- --only cold-start,latency` runs just those sections (latency, cold-start, locks, git, runtime). */
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex > 0 ? new Set(process.argv[onlyIndex + 1]?.split(',')) : undefined;
const wanted = (section) => !only || only.has(section);

const out = (text = '') => process.stdout.write(text + '\n');
const progress = (text) => process.stderr.write(`  … ${text}\n`);

function versionOf(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8')).version;
  } catch {
    return '?';
  }
}

/** The SDK Client over stdio against `node <args>` in cwd. */
async function connect(args, cwd) {
  const transport = new StdioClientTransport({ command: process.execPath, args, cwd, env: cleanEnv(), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const client = new Client({ name: 'codestrator-bench', version: '1.0.0' });
  await client.connect(transport);
  await client.listTools();
  return { client, stderr: () => stderr, cpuMs: () => processCpuMs(transport.pid) };
}

/** User + system CPU time of a process so far, in ms (Linux /proc; 10 ms ticks), or NaN elsewhere. */
function processCpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** One tools/call; throws on an error result so a broken setup never produces figures. */
async function call(server, name, args) {
  const result = await server.client.callTool({ name, arguments: args });
  if (result.isError) {
    throw new Error(`${name} ${JSON.stringify(args)} failed: ${JSON.stringify(result.structuredContent)}\n${server.stderr()}`);
  }
  return result.structuredContent;
}

const orch = (server, tool, method, params = {}) => call(server, tool, { method, params });

/** ~n ledger tasks: 2 epics → 2 features each → 2 test groups each → cases for the rest. */
async function seedTasks(server, n) {
  const groups = [];
  for (let e = 1; e <= 2; e++) {
    const epic = await orch(server, 'orch_task', 'task.create', { level: 'epic', title: `Epic ${e}` });
    for (let f = 1; f <= 2; f++) {
      const feature = await orch(server, 'orch_task', 'task.create', {
        level: 'feature',
        title: `Feature ${e}.${f}`,
        parent_id: epic.task.id,
      });
      for (let g = 1; g <= 2; g++) {
        const group = await orch(server, 'orch_task', 'task.create', {
          level: 'test_group',
          title: `Group ${e}.${f}.${g}`,
          parent_id: feature.task.id,
        });
        groups.push(group.task.id);
      }
    }
  }
  const cases = n - 2 - 4 - groups.length;
  for (let c = 0; c < cases; c++) {
    await orch(server, 'orch_task', 'task.create', {
      level: 'case',
      title: `Case ${c + 1}: behaviour number ${c + 1} holds`,
      parent_id: groups[c % groups.length],
      steps: ['write failing test', 'make it pass', 'refactor'],
      description: 'Seeded by the benchmark.',
    });
  }
  return n;
}

/** Runs fn `count` times sequentially and returns the wall time of each run in ms. */
async function timeLoop(count, fn) {
  const samples = new Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await fn(i);
    samples[i] = performance.now() - t0;
  }
  return samples;
}

/** A copy of the list in random order (Fisher–Yates). */
function shuffled(list) {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

async function latencySection(cs, bare, bareWrite) {
  const listArgs = { method: 'task.list', params: { limit: 20 } };
  const scope = { scope_type: 'file', scope_path: 'src/bench-latency.ts' };
  // The bare server echoes payloads of the same size as codestrator's answers, so both sides carry
  // the same bytes through the SDK and the pipe; what remains is codestrator's own work.
  const getPayload = await orch(cs, 'orch_task', 'task.get', { task_id: 1 });
  const listPayload = await orch(cs, 'orch_task', 'task.list', { limit: 20 });
  const acquirePayload = await orch(cs, 'orch_workspace', 'lock.acquire', scope);
  const releasePayload = await orch(cs, 'orch_workspace', 'lock.release', { lock_id: acquirePayload.lock.id });
  const kb = (value) => `${(JSON.stringify(value).length / 1024).toFixed(1)} KB`;
  const cases = {
    get: [
      'codestrator  orch_task task.get {task_id: 1}',
      async () => {
        const result = await orch(cs, 'orch_task', 'task.get', { task_id: 1 });
        if (!result.task) throw new Error(`task.get returned ${JSON.stringify(result)}`);
      },
    ],
    list: [
      'codestrator  orch_task task.list {limit: 20}',
      async () => {
        const result = await call(cs, 'orch_task', listArgs);
        if (!Array.isArray(result.items) || result.items.length !== 20) throw new Error(`task.list returned ${JSON.stringify(result)}`);
      },
    ],
    lock: [
      'codestrator  lock.acquire + lock.release (pair)',
      async () => {
        const acquired = await orch(cs, 'orch_workspace', 'lock.acquire', scope);
        await orch(cs, 'orch_workspace', 'lock.release', { lock_id: acquired.lock.id });
      },
    ],
    echoGet: [`bare SDK     echo of a task.get-sized payload (${kb(getPayload)})`, () => call(bare, 'echo', getPayload)],
    echoList: [`bare SDK     echo of a task.list-sized payload (${kb(listPayload)})`, () => call(bare, 'echo', listPayload)],
    echoPair: [
      'bare SDK     echo + echo of lock-sized payloads (pair)',
      async () => {
        await call(bare, 'echo', acquirePayload);
        await call(bare, 'echo', releasePayload);
      },
    ],
    echo: ['bare SDK     echo of {method, params} (no-op floor)', () => call(bare, 'echo', listArgs)],
    writePair: [
      'bare SDK     (SQLite write txn + echo) × 2 (pair)',
      async () => {
        await call(bareWrite, 'echo', acquirePayload);
        await call(bareWrite, 'echo', releasePayload);
      },
    ],
  };
  const samples = Object.fromEntries(Object.keys(cases).map((key) => [key, []]));
  // The server's own CPU time per call: steadier than wall time, which swings with scheduling.
  const serverOf = (key) => (key === 'writePair' ? bareWrite : key.startsWith('echo') ? bare : cs);
  const cpu = Object.fromEntries(Object.keys(cases).map((key) => [key, 0]));
  progress(`latency: ${CONFIG.warmup} warm-up + ${CONFIG.iterations} measured calls per row, in ${CONFIG.rounds} rounds of shuffled rows`);
  for (const [, fn] of Object.values(cases)) await timeLoop(CONFIG.warmup, fn);
  const perRound = Math.ceil(CONFIG.iterations / CONFIG.rounds);
  for (let round = 0; round < CONFIG.rounds; round++) {
    const count = Math.min(perRound, CONFIG.iterations - round * perRound);
    for (const key of shuffled(Object.keys(cases))) {
      const [, fn] = cases[key];
      const before = serverOf(key).cpuMs();
      samples[key].push(...(await timeLoop(count, fn)));
      cpu[key] += serverOf(key).cpuMs() - before;
    }
  }
  const st = Object.fromEntries(Object.entries(samples).map(([key, list]) => [key, summarize(list)]));

  out('1. MCP tools/call round trip over stdio (SDK Client → server → SDK Client), sequential calls');
  out();
  out(
    table([
      ['call', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms', 'max ms', 'server CPU µs/call'],
      ...Object.entries(cases).map(([key, [label]]) => {
        const s = st[key];
        return [label, String(s.n), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.mean), ms(s.max), int((cpu[key] * 1000) / s.n)];
      }),
    ]),
  );
  out();
  out(
    table([
      ['ratio codestrator / bare (same payload)', 'p50', 'p99', 'target'],
      ['task.get  / echo', ratio(st.get.p50, st.echoGet.p50), ratio(st.get.p99, st.echoGet.p99), `≤ ${TARGET_RATIO}×`],
      ['lock pair / echo pair', ratio(st.lock.p50, st.echoPair.p50), ratio(st.lock.p99, st.echoPair.p99), `≤ ${TARGET_RATIO}×`],
      ['task.list / echo', ratio(st.list.p50, st.echoList.p50), ratio(st.list.p99, st.echoList.p99), '(reference)'],
      ['lock pair / (SQLite write + echo) pair', ratio(st.lock.p50, st.writePair.p50), ratio(st.lock.p99, st.writePair.p99), '(reference)'],
      ['server CPU: task.get / echo', ratio(cpu.get, cpu.echoGet), '', '(reference)'],
      ['server CPU: lock pair / echo pair', ratio(cpu.lock, cpu.echoPair), '', '(reference)'],
      ['task.get  / no-op echo', ratio(st.get.p50, st.echo.p50), ratio(st.get.p99, st.echo.p99), '(reference)'],
    ]),
  );
  out('  (each bare echo carries a payload the size of the matching codestrator answer, so the ratio shows');
  out("   codestrator's own work; a lock pair is two round trips, compared with two echo calls. The");
  out('   write pair is the same echo server committing one SQLite write transaction before each answer,');
  out('   as a lock write must: the floor for a durable lock, shown for reference)');
  out();
}

async function coldStartSection(repo) {
  const env = cleanEnv();
  const servers = {
    codestrator: {
      args: [BIN, 'mcp'],
      firstCall: { name: 'orch_task', arguments: { method: 'task.list', params: { limit: 20 } } },
    },
    'bare SDK': { args: [BARE_SERVER], firstCall: { name: 'echo', arguments: { method: 'task.list', params: { limit: 20 } } } },
  };
  const results = Object.fromEntries(Object.keys(servers).map((name) => [name, { init: [], first: [] }]));
  const floor = [];
  progress(`cold start: ${CONFIG.coldStarts} spawns per server (+1 discarded warm-up each), alternating`);
  for (let i = -1; i < CONFIG.coldStarts; i++) {
    for (const [name, server] of Object.entries(servers)) {
      // One spawn gives both figures: the first call is only sent once the initialize response is in.
      const r = await coldStart({ ...server, cwd: repo, env, protocolVersion: LATEST_PROTOCOL_VERSION });
      if (i < 0) continue;
      results[name].init.push(r.initializeMs);
      results[name].first.push(r.firstCallMs);
    }
    const f = await nodeFloor(repo, env);
    if (i >= 0) floor.push(f);
  }
  const cs = { init: summarize(results.codestrator.init), first: summarize(results.codestrator.first) };
  const bare = { init: summarize(results['bare SDK'].init), first: summarize(results['bare SDK'].first) };
  const nodeOnly = summarize(floor);

  const row = (label, st) => [label, ms(st.p50, 1), ms(st.p90, 1), ms(st.min, 1), ms(st.max, 1)];
  out(`2. Cold start: spawn \`node …\` with stdio pipes → response line (n = ${CONFIG.coldStarts} each)`);
  out();
  out(
    table([
      ['measure', 'median ms', 'p90 ms', 'min ms', 'max ms'],
      row('codestrator  spawn → initialize response', cs.init),
      row('bare SDK     spawn → initialize response', bare.init),
      row('codestrator  spawn → first tool result (task.list)', cs.first),
      row('bare SDK     spawn → first tool result (echo)', bare.first),
      row('node -e ""   spawn → exit (floor, reference)', nodeOnly),
    ]),
  );
  out();
  out(
    table([
      ['cold start', 'median', 'p90', 'target'],
      ['codestrator initialize (absolute)', `${ms(cs.init.p50, 1)} ms`, `${ms(cs.init.p90, 1)} ms`, `< ${TARGET_COLD_START_MS} ms`],
      ['codestrator / bare, initialize', ratio(cs.init.p50, bare.init.p50), ratio(cs.init.p90, bare.init.p90), `≤ ${TARGET_RATIO}×`],
      ['codestrator / bare, first tool result', ratio(cs.first.p50, bare.first.p50), ratio(cs.first.p90, bare.first.p90), '(reference)'],
    ]),
  );
  out();
}

function runWorkers(repo) {
  return new Promise((resolve, reject) => {
    const workers = [];
    const done = [];
    let ready = 0;
    let t0 = 0;
    const fail = (err) => {
      for (const worker of workers) worker.kill('SIGKILL');
      reject(err);
    };
    for (let i = 0; i < CONFIG.lockWorkers; i++) {
      const worker = fork(LOCK_WORKER, [repo, String(i), String(CONFIG.lockCycles)], {
        cwd: repo,
        env: cleanEnv(),
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      workers.push(worker);
      worker.on('exit', (code) => {
        if (code !== 0 && done.length < CONFIG.lockWorkers) fail(new Error(`lock worker ${i} exited with ${code}`));
      });
      worker.on('message', (msg) => {
        if (msg.type === 'ready' && ++ready === CONFIG.lockWorkers) {
          t0 = performance.now();
          for (const w of workers) w.send({ type: 'go' });
        } else if (msg.type === 'failed') {
          fail(new Error(`lock worker ${msg.index}: ${msg.message}`));
        } else if (msg.type === 'done') {
          done.push(msg);
          if (done.length === CONFIG.lockWorkers) resolve({ wallMs: performance.now() - t0, results: done });
        }
      });
    }
  });
}

async function throughputSection(repo) {
  progress(`lock throughput: ${CONFIG.lockWorkers} processes × ${CONFIG.lockCycles} acquire(+release) cycles`);
  const { wallMs, results } = await runWorkers(repo);
  const sum = (key) => results.reduce((total, r) => total + r[key], 0);
  const grants = sum('grants');
  const conflicts = sum('conflicts');
  const releases = sum('releases');
  const attempts = CONFIG.lockWorkers * CONFIG.lockCycles;
  const other = {};
  for (const r of results) for (const [code, n] of Object.entries(r.otherErrors)) other[code] = (other[code] ?? 0) + n;
  const acquire = summarize(results.flatMap((r) => r.acquireMs));
  const seconds = wallMs / 1000;
  const unexpected = Object.keys(other).filter((code) => code !== 'BUSY');
  if (unexpected.length > 0) throw new Error(`lock workers got unexpected errors: ${JSON.stringify(other)}`);
  const otherText =
    Object.keys(other).length === 0
      ? '0'
      : Object.entries(other)
          .map(([code, n]) => `${code} ${n}`)
          .join(', ');

  out(
    `3. Lock throughput: ${CONFIG.lockWorkers} OS processes, each its own session and dispatcher (dist/app/services.js), ` +
      `${CONFIG.lockCycles} cycles each`,
  );
  out("   scopes rotate over prefix 'src', file 'src/a.ts', file 'src/b.ts'; a granted lock is released at once");
  out();
  out(
    table([
      ['figure', 'value'],
      ['wall time (go → last worker done)', `${ms(wallMs, 0)} ms`],
      ['acquire attempts', int(attempts)],
      ['grants', int(grants)],
      ['clean conflicts (LOCKED)', int(conflicts)],
      ['releases', int(releases)],
      ['other errors', otherText],
      ['grants/s', `${int(grants / seconds)}/s`],
      ['conflicts/s', `${int(conflicts / seconds)}/s`],
      ['ops/s (acquires + releases)', `${int((attempts + releases) / seconds)}/s`],
      ['lock.acquire latency p50 / p99 under contention', `${ms(acquire.p50, 2)} / ${ms(acquire.p99, 2)} ms`],
    ]),
  );
  out();
}

async function main() {
  const cpus = os.cpus();
  out('codestrator benchmark');
  out(
    `  node ${process.version} · ${os.platform()} ${os.arch()} · ${cpus.length} CPU(s)${cpus[0] ? ` (${cpus[0].model.trim()})` : ''}` +
      ` · codestrator ${versionOf(join(ROOT, 'package.json'))}` +
      ` · @modelcontextprotocol/sdk ${versionOf(join(ROOT, 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json'))}`,
  );
  out('  figures only: targets are printed for reading, nothing here passes or fails on time');
  out();

  const started = performance.now();
  const repo = makeRepo();
  let cs;
  let bare;
  let bareWrite;
  try {
    progress(`temp repository ${repo.path}`);
    cs = await connect([BIN, 'mcp'], repo.path);
    bare = await connect([BARE_SERVER], repo.path);
    bareWrite = await connect([BARE_SERVER, join(repo.path, '..', 'bare-write.db')], repo.path);
    await orch(cs, 'orch_session', 'workspace.init');
    await orch(cs, 'orch_session', 'session.open', { always_branch: false, agent_role: 'bench' });
    progress(`seeding ${CONFIG.seedTasks} tasks`);
    await seedTasks(cs, CONFIG.seedTasks);

    if (wanted('latency')) await latencySection(cs, bare, bareWrite);
    for (const server of [cs, bare, bareWrite]) await server.client.close();
    cs = bare = bareWrite = undefined;

    if (wanted('cold-start')) await coldStartSection(repo.path);
    if (wanted('locks')) await throughputSection(repo.path);
    if (wanted('git')) await gitPlaneSection({ out, progress });
    if (wanted('runtime')) await runtimeSection({ out, progress });
  } finally {
    await cs?.client.close().catch(() => {});
    await bare?.client.close().catch(() => {});
    await bareWrite?.client.close().catch(() => {});
    repo.cleanup();
  }
  out(`total bench time ${ms((performance.now() - started) / 1000, 1)} s`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
});
