#!/usr/bin/env node
/**
 * The built-in scripted agent: `node dist/runners/script-agent.js <script.json>`.
 *
 * It stands in for Codex / Claude in tests and in the demo. It is a real MCP client: it starts
 * codestrator's MCP server over stdio (CODESTRATOR_SERVER_COMMAND, a JSON argv, else this
 * package's `bin/codestrator.js mcp`) in its own working directory, with its identity
 * (CODESTRATOR_SESSION_ID / CODESTRATOR_THREAD_ID / CODESTRATOR_REPO) passed through, and follows
 * the script (format: script-format.ts), printing one line per step.
 *
 * Between steps it takes its thread's pending inbox messages (printed `DIRECTIVE: <text>`, marked
 * delivered); lines typed on stdin are printed `INPUT: <line>`; SIGINT prints `INTERRUPTED`, cuts a
 * sleep or wait short and goes on with the next step (or exits 130 with `"on_interrupt": "exit"`).
 *
 * Exit codes: 0 the script completed (or an `exit` step's code), 1 a step failed, 2 a bad script
 * or bad setup, 130 interrupted with on_interrupt exit, 143 terminated.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import {
  type CommitStep,
  type Json,
  type JsonObject,
  type Script,
  type Step,
  type WaitDirectiveStep,
  type WaitForStep,
  PlaceholderError,
  ScriptError,
  jsonEqual,
  loadScript,
  pathProblem,
  resolvePlaceholders,
  valueAt,
} from './script-format.js';
import { ScriptGit } from './script-git.js';
import { McpConnection, type Outcome, serverCommand } from './script-mcp.js';

const EXIT_FAILED = 1;
const EXIT_BAD_SCRIPT = 2;
const EXIT_INTERRUPTED = 130;
const EXIT_TERMINATED = 143;
const INBOX_POLL_MS = 200;
const INTERRUPT_COALESCE_MS = 250;

/** A step that did not end as the script said; the agent stops with exit 1. */
class StepFailure extends Error {
  override readonly name = 'StepFailure';
}

interface Message {
  source: 'inbox' | 'input';
  text: string;
  message_id?: number;
}

const say = (line: string) => {
  process.stdout.write(`${line}\n`);
};
const oneLine = (text: string) => text.replace(/\r?\n/g, '\n  ');
const sameCode = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function envId(name: string): number | null {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return null;
  if (!/^[1-9][0-9]*$/.test(raw)) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(raw)}.`);
  return Number(raw);
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((done) => {
    if (signal.aborted) return done(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      done(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      done(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** What a step acts on, as written in the script (for a failure line, before placeholders are resolved). */
function label(step: Step): string {
  switch (step.kind) {
    case 'call':
    case 'wait_for':
      return ` ${step.method}`;
    case 'write':
    case 'append':
      return ` ${step.path}`;
    case 'commit':
      return ` ${JSON.stringify(step.message.split('\n')[0])}`;
    case 'sleep':
      return ` ${step.ms}`;
    case 'report':
      return ` ${String(step.params.state)}`;
    default:
      return '';
  }
}

class ScriptAgent {
  private readonly mcp: McpConnection;
  private readonly saved: Record<string, Json | undefined> = {};
  /** Directives and input lines received, not yet taken by a wait_directive step. */
  private readonly messages: Message[] = [];
  /** Messages handed over in tool results, printed at the next step boundary. */
  private readonly surfaced: JsonObject[] = [];
  /** Inbox message ids already printed. */
  private readonly seen = new Set<number>();
  private readonly warned = new Set<string>();
  private messageArrived: (() => void) | undefined;
  private stepAbort = new AbortController();
  private exitRequested = false;
  private readonly cwd = process.cwd();
  private readonly git: ScriptGit;
  private readonly sessionId = envId('CODESTRATOR_SESSION_ID');
  private readonly threadId = envId('CODESTRATOR_THREAD_ID');

  constructor(private readonly script: Script) {
    this.mcp = new McpConnection(`codestrator-script-agent:${script.name}`);
    this.git = new ScriptGit(this.cwd, script.name);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    this.saved.env = env;
    this.saved.vars = script.vars;
    this.saved.agent = {
      name: script.name,
      cwd: this.cwd,
      session_id: this.sessionId,
      thread_id: this.threadId,
      repo: process.env.CODESTRATOR_REPO ?? null,
    };
  }

  async run(): Promise<number> {
    const total = this.script.steps.length;
    const who = [
      this.sessionId === null ? '' : ` session ${this.sessionId}`,
      this.threadId === null ? '' : ` thread ${this.threadId}`,
    ].join('');
    say(`script-agent ${this.script.name}: ${total} steps as${who || ' nobody'} in ${this.cwd}`);
    this.listen();
    try {
      say(`script-agent ${this.script.name}: connected to ${await this.mcp.connect(this.cwd)}`);
    } catch (err) {
      say(`script-agent ${this.script.name}: cannot start the MCP server: ${err instanceof Error ? err.message : String(err)}`);
      await this.close();
      return EXIT_FAILED;
    }
    try {
      for (const step of this.script.steps) {
        if (this.exitRequested) return EXIT_INTERRUPTED;
        // A Ctrl-C during the inbox check below cuts the coming step short (this controller is its own).
        this.stepAbort = new AbortController();
        await this.checkInbox(this.script.checkInbox);
        const head = `step ${step.index}/${total} ${step.kind}`;
        let result: string;
        try {
          result = await this.runStep(step);
        } catch (err) {
          if (!(err instanceof StepFailure) && !(err instanceof PlaceholderError)) throw err;
          say(`${head}${label(step)} FAILED ${err.message}`);
          process.stderr.write(
            `script-agent ${this.script.name}: step ${step.index} (${step.kind}${label(step)}) failed: ${err.message}\n`,
          );
          say(`script-agent ${this.script.name}: failed at step ${step.index}/${total}`);
          return EXIT_FAILED;
        }
        say(`${head} ${result}`);
        if (step.kind === 'exit') return step.code;
      }
      if (this.exitRequested) return EXIT_INTERRUPTED;
      await this.checkInbox(this.script.checkInbox);
      say(`script-agent ${this.script.name}: done (${total} steps)`);
      return 0;
    } finally {
      await this.close();
    }
  }

  close(): Promise<void> {
    return this.mcp.close();
  }

  private listen(): void {
    let last = 0;
    process.on('SIGINT', () => {
      // One Ctrl-C can arrive twice (from the terminal and from a wrapper forwarding it): count it once.
      if (Date.now() - last < INTERRUPT_COALESCE_MS) return;
      last = Date.now();
      say('INTERRUPTED');
      if (this.script.onInterrupt === 'exit') this.exitRequested = true;
      this.stepAbort.abort();
    });
    const lines = createInterface({ input: process.stdin, terminal: false });
    lines.on('line', (line) => {
      say(`INPUT: ${line}`);
      this.receive({ source: 'input', text: line });
    });
    process.stdin.on('error', () => {});
  }

  private receive(message: Message): void {
    this.messages.push(message);
    this.messageArrived?.();
  }

  /** One method call; a broken connection fails the step. */
  private async callMethod(method: string, params: JsonObject): Promise<Outcome> {
    let outcome: Outcome;
    try {
      outcome = await this.mcp.call(method, params);
    } catch (err) {
      throw new StepFailure((err as Error).message);
    }
    // The server may hand a thread its messages in any tool result (already marked delivered).
    if (outcome.ok && Array.isArray(outcome.data.inbox)) this.surfaced.push(...(outcome.data.inbox as JsonObject[]));
    return outcome;
  }

  private async runStep(step: Step): Promise<string> {
    switch (step.kind) {
      case 'call': {
        const params = resolvePlaceholders(step.params, this.saved);
        const outcome = await this.callMethod(step.method, params);
        return `${step.method} ${this.settle(outcome, step.expectError, step.save)}`;
      }
      case 'write':
      case 'append': {
        const path = this.resolvePath(resolvePlaceholders(step.path, this.saved));
        const content = resolvePlaceholders(step.content, this.saved);
        try {
          await mkdir(dirname(path), { recursive: true });
          await (step.kind === 'write' ? writeFile(path, content) : appendFile(path, content));
        } catch (err) {
          throw new StepFailure(`${err instanceof Error ? err.message : String(err)}`);
        }
        return `${relative(this.cwd, path)} ok (${Buffer.byteLength(content)} bytes)`;
      }
      case 'commit':
        return this.commit(step);
      case 'sleep':
        return `${step.ms} ${(await sleep(step.ms, this.stepAbort.signal)) ? 'ok' : 'interrupted'}`;
      case 'wait_for':
        return this.waitFor(step);
      case 'wait_directive':
        return this.waitDirective(step);
      case 'report': {
        const params = resolvePlaceholders(step.params, this.saved);
        const outcome = await this.callMethod('thread.report', params);
        if (!outcome.ok && outcome.error.code === 'INVALID_ARGUMENT' && outcome.error.field === 'method') {
          say(`WARNING: thread.report is not on this server; the report "${String(params.state)}" was not sent.`);
          return `${String(params.state)} skipped (no thread.report)`;
        }
        return `${String(params.state)} ${this.settle(outcome, step.expectError, step.save)}`;
      }
      case 'print':
        return resolvePlaceholders(step.text, this.saved);
      case 'exit':
        return String(step.code);
    }
  }

  /** Applies expect_error and save to an outcome; returns the word printed for it. */
  private settle(outcome: Outcome, expectError: string | undefined, save: string | undefined): string {
    if (outcome.ok) {
      if (expectError !== undefined) throw new StepFailure(`expected ${expectError}, but it succeeded.`);
    } else if (expectError === undefined) {
      throw new StepFailure(`${outcome.error.code}: ${outcome.error.message}${outcome.error.hint ? ` (${outcome.error.hint})` : ''}`);
    } else if (!sameCode(outcome.error.code, expectError)) {
      throw new StepFailure(`expected ${expectError}, got ${outcome.error.code}: ${outcome.error.message}`);
    }
    if (save !== undefined) this.saved[save] = outcome.data;
    return outcome.ok ? 'ok' : `${outcome.error.code} (expected)`;
  }

  private resolvePath(path: string): string {
    const problem = pathProblem(path);
    if (problem) throw new StepFailure(`${JSON.stringify(path)} ${problem}.`);
    const full = resolve(this.cwd, path);
    if (!full.startsWith(this.cwd + sep)) throw new StepFailure(`${JSON.stringify(path)} leaves the worktree.`);
    return full;
  }

  /** git add, then git commit with hooks on; failures get the codes hook, empty or git. */
  private async commit(step: CommitStep): Promise<string> {
    const message = resolvePlaceholders(step.message, this.saved);
    const paths = step.paths?.map((path) => relative(this.cwd, this.resolvePath(resolvePlaceholders(path, this.saved))));
    const label = JSON.stringify(message.split('\n')[0]);
    const result = await this.git.commit(message, paths);
    if (!result.ok) {
      const error = { code: result.code, message: result.message };
      return `${label} ${this.settle({ ok: false, error, data: { error } }, step.expectError, step.save)}`;
    }
    const data = { commit: result.commit, branch: result.branch, message };
    return `${label} ${this.settle({ ok: true, data }, step.expectError, step.save)} ${result.commit.slice(0, 12)}`;
  }

  private async waitFor(step: WaitForStep): Promise<string> {
    const params = resolvePlaceholders(step.params, this.saved);
    const deadline = Date.now() + step.timeoutMs;
    let tries = 0;
    let last = 'no attempt';
    for (;;) {
      tries += 1;
      const outcome = await this.callMethod(step.method, params);
      if (outcome.ok) {
        const until = step.until;
        const done = until === 'ok' || (until !== undefined && jsonEqual(valueAt(outcome.data, until.path), until.equals));
        if (done) return `${step.method} ${this.settle(outcome, step.expectError, step.save)} after ${tries} tries`;
        last = until === undefined ? 'it succeeded' : `${until.path} is ${JSON.stringify(valueAt(outcome.data, until.path)) ?? 'missing'}`;
      } else {
        if (step.untilError !== undefined && sameCode(outcome.error.code, step.untilError)) {
          if (step.expectError !== undefined)
            throw new StepFailure(`expected ${step.expectError}, but the wait ended with ${outcome.error.code}.`);
          if (step.save !== undefined) this.saved[step.save] = outcome.data;
          return `${step.method} ${outcome.error.code} (until_error) after ${tries} tries`;
        }
        // A malformed call never starts working: fail at once rather than at the deadline.
        if (outcome.error.code === 'INVALID_ARGUMENT') return `${step.method} ${this.settle(outcome, step.expectError, step.save)}`;
        last = `${outcome.error.code}: ${outcome.error.message}`;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const error = {
          code: 'TIMEOUT',
          message: `${step.method} did not get there within ${step.timeoutMs} ms (${tries} tries; last: ${last})`,
        };
        return `${step.method} ${this.settle({ ok: false, error, data: { error } }, step.expectError, step.save)}`;
      }
      if (!(await sleep(Math.min(step.intervalMs, left), this.stepAbort.signal))) return `${step.method} interrupted after ${tries} tries`;
    }
  }

  private async waitDirective(step: WaitDirectiveStep): Promise<string> {
    const deadline = Date.now() + step.timeoutMs;
    for (;;) {
      const index = this.messages.findIndex((m) => step.contains === undefined || m.text.includes(step.contains));
      if (index >= 0) {
        const [message] = this.messages.splice(index, 1);
        const data: JsonObject = { source: message!.source, text: message!.text };
        if (message!.message_id !== undefined) data.message_id = message!.message_id;
        return `${this.settle({ ok: true, data }, step.expectError, step.save)} (${message!.source})`;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const error = {
          code: 'TIMEOUT',
          message: `no directive${step.contains ? ` containing ${JSON.stringify(step.contains)}` : ''} within ${step.timeoutMs} ms`,
        };
        return this.settle({ ok: false, error, data: { error } }, step.expectError, step.save);
      }
      const arrived = new Promise<void>((done) => (this.messageArrived = done));
      const slept = sleep(Math.min(INBOX_POLL_MS, left), this.stepAbort.signal);
      const finished = await Promise.race([slept, arrived.then(() => true)]);
      this.messageArrived = undefined;
      if (!finished || this.stepAbort.signal.aborted) return 'interrupted';
      await this.checkInbox(true);
    }
  }

  /** Prints a warning the first time it happens (the inbox is checked before every step). */
  private warnOnce(text: string): void {
    if (this.warned.has(text)) return;
    this.warned.add(text);
    say(`WARNING: ${text}`);
  }

  /** Prints a message for this thread as a directive (once per message id). */
  private directive(text: string, id: number | undefined): void {
    if (id !== undefined && this.seen.has(id)) return;
    if (id !== undefined) this.seen.add(id);
    say(`DIRECTIVE: ${oneLine(text)}`);
    this.receive({ source: 'inbox', text, ...(id === undefined ? {} : { message_id: id }) });
  }

  /**
   * At a step boundary: prints the messages surfaced in earlier tool results, then (poll) takes the
   * thread's pending inbox messages, each marked delivered, then printed as a directive.
   */
  private async checkInbox(poll: boolean): Promise<void> {
    for (const item of this.surfaced.splice(0)) {
      this.directive(String(item.message ?? item.text ?? JSON.stringify(item)), typeof item.id === 'number' ? item.id : undefined);
    }
    if (!poll || this.threadId === null) return;
    let pending: Outcome;
    try {
      pending = await this.callMethod('inbox.pending', {});
    } catch (err) {
      // A broken connection: the next step's call reports it.
      this.warnOnce(`inbox.pending failed: ${(err as Error).message}`);
      return;
    }
    if (!pending.ok) {
      this.warnOnce(`inbox.pending failed: ${pending.error.code}: ${pending.error.message}`);
      return;
    }
    for (const item of (pending.data.items ?? []) as JsonObject[]) {
      const id = item.id as number;
      let delivered: Outcome;
      try {
        delivered = await this.callMethod('inbox.deliver', { message_id: id });
      } catch (err) {
        this.warnOnce(`inbox.deliver failed: ${(err as Error).message}`);
        return;
      }
      // CONFLICT: someone else delivered it (e.g. typed it into the pane) in the meantime.
      if (!delivered.ok && delivered.error.code === 'CONFLICT') continue;
      if (!delivered.ok) say(`WARNING: inbox.deliver ${id} failed: ${delivered.error.code}: ${delivered.error.message}`);
      this.directive(String(item.message), id);
    }
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv.length !== 1 || argv[0] === '--help' || argv[0] === '-h') {
    process.stderr.write('usage: script-agent <script.json>\n');
    return EXIT_BAD_SCRIPT;
  }
  const refuse = (what: string, err: unknown) => {
    const text = `script-agent: ${what}: ${err instanceof Error ? err.message : String(err)}`;
    say(text);
    process.stderr.write(`${text}\n`);
    return EXIT_BAD_SCRIPT;
  };
  let script: Script;
  try {
    script = await loadScript(argv[0]!, process.env.CODESTRATOR_SCRIPT_VARS);
  } catch (err) {
    if (err instanceof ScriptError) return refuse('bad script', err);
    throw err;
  }
  let agent: ScriptAgent;
  try {
    serverCommand();
    agent = new ScriptAgent(script);
  } catch (err) {
    return refuse('bad setup', err);
  }
  const terminate = (signal: string) => {
    if (terminated) return;
    terminated = true;
    say(`TERMINATED (${signal})`);
    void agent.close().finally(() => exit(EXIT_TERMINATED));
  };
  process.on('SIGTERM', () => terminate('SIGTERM'));
  process.on('SIGHUP', () => terminate('SIGHUP'));
  return agent.run();
}

let terminated = false;

/** Exits once stdout has taken everything written (a pipe may be asynchronous); after SIGTERM/SIGHUP always 143. */
function exit(code: number): void {
  const final = terminated ? EXIT_TERMINATED : code;
  process.stdout.write('', () => process.exit(final));
}

process.stdout.on('error', () => {});
main(process.argv.slice(2)).then(exit, (err: unknown) => {
  process.stderr.write(`script-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exit(EXIT_FAILED);
});
