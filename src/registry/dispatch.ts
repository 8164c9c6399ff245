import type { z } from 'zod';
import type { Actor, CoreContext } from '../core/context.js';
import { CodestratorError, type WireError, invalid, toCodestratorError } from '../core/errors.js';
import { ownerKeyOf, validateActor } from '../core/identity.js';
import { assertNotFenced } from '../core/fence.js';
import type { RepoConfig } from '../core/config.js';
import { takePendingFor } from '../core/inbox.js';
import { touchThread } from '../core/thread-status.js';
import { touchSession } from '../core/sessions.js';
import { claimSession } from '../core/session-match.js';
import type { MethodDef, Registry } from './define.js';
import { checkParamLimits } from './limits.js';
import { closestNames } from './suggest.js';

/** The adapters a call runs against, opened lazily on the first call (so MCP initialize stays fast). */
export type Services = Omit<CoreContext, 'actor' | 'now' | 'config'> & {
  /** Read per call that needs it, so edits to the config file apply without a restart. */
  config(): RepoConfig;
};

export interface DispatcherOptions {
  registry: Registry;
  /** `init`: the call is workspace.init, which may create state where there is none yet. */
  services: (intent?: { init?: boolean }) => Promise<Services>;
  /** CODESTRATOR_SESSION_ID / CODESTRATOR_THREAD_ID, parsed; throws (per call) when they are malformed. */
  envIdentity: () => Actor;
  /**
   * Whether a session opened (or taken over) through this dispatcher becomes its default caller.
   * True for an agent's own MCP server; false for the CLI and for a supervisor acting on many sessions.
   */
  adoptSessions?: boolean;
  now?: () => number;
}

/** Per-call options of a surface that watches long operations (a CLI on a terminal). */
export interface CallOptions {
  progress?: (step: string) => void;
  /**
   * A supervisor's read (dashboard, CLI views, the status resource): a session_id in the params
   * scopes the call but is not that session's activity, so it does not keep a silent session live
   * (nor hand a thread its pending messages).
   */
  observer?: boolean;
}

export type CallOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: WireError };

/** Calls made as a session refresh its last_seen_at at most this often, so liveness needs no explicit heartbeat. */
const TOUCH_INTERVAL_MS = 15_000;

/**
 * The single entry for every surface: look the method up, validate params strictly, resolve
 * the caller, run the handler, and map any failure to the structured error shape.
 */
export class Dispatcher {
  private adoptedSessionId: number | undefined;
  private readonly touchedAt = new Map<number, number>();
  private readonly threadTouchedAt = new Map<number, number>();
  /** Sessions and threads are never deleted, so an identity checked once stays valid (their status is read per call). */
  private readonly knownActors = new Map<string, Actor>();
  private readonly now: () => number;

  constructor(private readonly options: DispatcherOptions) {
    this.now = options.now ?? Date.now;
  }

  get registry(): Registry {
    return this.options.registry;
  }

  async call(method: string, rawParams: unknown, options: CallOptions = {}): Promise<CallOutcome> {
    try {
      return { ok: true, result: await this.run(method, rawParams, options) };
    } catch (err) {
      return { ok: false, error: mapError(err).toWire() };
    }
  }

  private async run(method: string, rawParams: unknown, options: CallOptions): Promise<Record<string, unknown>> {
    const def = this.lookup(method);
    checkParamLimits(def.name, rawParams);
    const params = parseParams(def, rawParams ?? {});
    const services = await this.options.services({ init: def.name === 'workspace.init' });
    const mode = def.identity ?? 'params';
    let actor: Actor = mode === 'none' ? {} : this.defaultActor();
    const named = mode === 'params' ? ownerSessionOf(params as { owner_session?: number | string }) : undefined;
    if (mode === 'params') actor = mergeIdentity(actor, params as { session_id?: number; thread_id?: number });
    if (named && actor.sessionId === undefined && actor.threadId === undefined) actor = { ...named.actor };
    if (actor.sessionId !== undefined || actor.threadId !== undefined) actor = this.validated(services, actor);
    if (named) checkOwnerSession(named, actor);
    // Identity is cached, status is not: a session closed or taken over since the last call is fenced now.
    if (actor.sessionId !== undefined && def.mutates && isFenced(def, params)) services.store.read((sql) => assertNotFenced(sql, actor));
    let config: RepoConfig | undefined;
    const ctx = {
      ...services,
      // Read once per call, and only by calls that use it: most reads never stat the file.
      get config() {
        return (config ??= services.config());
      },
      actor,
      now: this.now,
      registry: this.options.registry,
      ...(options.progress ? { progress: options.progress } : {}),
    };
    const result = await def.handler(params, ctx);
    const adopted = def.adoptSession?.(result);
    if (adopted !== undefined && this.options.adoptSessions && this.options.envIdentity().sessionId === undefined) {
      this.adoptedSessionId = adopted;
      // Records where this agent runs, so its next restart finds the session (best effort, like the touch).
      try {
        claimSession(ctx, adopted);
      } catch {
        // The adoption stands; a later adoption records it.
      }
    }
    if (!options.observer) {
      if (actor.sessionId !== undefined && def.name !== 'session.heartbeat') this.touch(ctx, actor.sessionId);
      if (actor.threadId !== undefined) this.touchThread(ctx, actor.threadId);
    }
    const body = asObject(result);
    // A child learns of messages (and queued directives) with its next tool call; inbox.* calls manage them directly.
    if (actor.threadId !== undefined && def.group !== 'orch_inbox' && !options.observer) {
      const inbox = takePendingFor(ctx, actor.threadId);
      if (inbox.length > 0) return { ...body, inbox, inbox_note: 'Messages for you from other threads; they are now marked delivered.' };
    }
    return body;
  }

  private validated(services: Services, actor: Actor): Actor {
    const key = `${actor.sessionId ?? ''}:${actor.threadId ?? ''}`;
    let known = this.knownActors.get(key);
    if (!known) {
      known = services.store.read((sql) => validateActor(sql, actor));
      this.knownActors.set(key, known);
    }
    return known;
  }

  private defaultActor(): Actor {
    const env = this.options.envIdentity();
    if (env.sessionId !== undefined || env.threadId !== undefined) return { ...env };
    return this.adoptedSessionId === undefined ? {} : { sessionId: this.adoptedSessionId };
  }

  private lookup(method: string): MethodDef {
    const def = this.options.registry.methods.get(method);
    if (def) return def;
    const suggestions = closestNames(method, [...this.options.registry.methods.keys()]);
    throw invalid(
      `Unknown method ${JSON.stringify(method)}.`,
      'method',
      suggestions.length > 0
        ? `Did you mean ${suggestions.join(' or ')}? system.describe lists every method.`
        : 'system.describe lists every method.',
    );
  }

  /** A child's calls mark it active (at most every 2 s), so it is not taken for idle mid-task. */
  private touchThread(ctx: Parameters<typeof touchThread>[0], threadId: number): void {
    const now = this.now();
    if (now - (this.threadTouchedAt.get(threadId) ?? 0) < 2000) return;
    try {
      touchThread(ctx, threadId);
      this.threadTouchedAt.set(threadId, now);
    } catch {
      // Best effort, like the session touch.
    }
  }

  private touch(ctx: Parameters<typeof touchSession>[0], sessionId: number): void {
    const now = this.now();
    if (now - (this.touchedAt.get(sessionId) ?? 0) < TOUCH_INTERVAL_MS) return;
    // Best effort: the call itself has committed, so a busy database must not turn it into a failure.
    try {
      touchSession(ctx, sessionId);
      this.touchedAt.set(sessionId, now);
    } catch {
      // The next call tries again.
    }
  }
}

/**
 * The caller named in the params, checked against the identity this server runs as: a server
 * started as a session or thread (or that opened one) cannot act as another one by passing ids.
 */
function mergeIdentity(fallback: Actor, p: { session_id?: number; thread_id?: number }): Actor {
  const clash = (field: 'session_id' | 'thread_id', given: number | undefined, own: number | undefined) => {
    if (given === undefined || own === undefined || given === own) return;
    const kind = field === 'session_id' ? 'session' : 'thread';
    throw invalid(
      `This server acts as ${kind} ${own}; a call cannot act as ${kind} ${given}.`,
      field,
      `Omit ${field}: calls default to ${kind} ${own}.`,
    );
  };
  clash('session_id', p.session_id, fallback.sessionId);
  clash('thread_id', p.thread_id, fallback.threadId);
  const actor: Actor = { ...fallback };
  if (p.session_id !== undefined) actor.sessionId = p.session_id;
  if (p.thread_id !== undefined) actor.threadId = p.thread_id;
  return actor;
}

const isFenced = (def: MethodDef, params: unknown): boolean =>
  typeof def.fenced === 'function' ? def.fenced(params) : (def.fenced ?? true);

interface NamedOwner {
  given: number | string;
  actor: Actor;
}

/** lock.acquire's contract input owner_session names the caller: a session id, `session:<id>` or `thread:<id>`. */
function ownerSessionOf(params: { owner_session?: number | string }): NamedOwner | undefined {
  const given = params.owner_session;
  if (given === undefined) return undefined;
  const [kind, raw] = typeof given === 'number' ? ['session', String(given)] : given.includes(':') ? given.split(':') : ['session', given];
  const id = Number(raw);
  return { given, actor: kind === 'thread' ? { threadId: id } : { sessionId: id } };
}

/** owner_session must name the caller (its session, or the thread acting): a lock always belongs to whoever calls. */
function checkOwnerSession(named: NamedOwner, actor: Actor): void {
  const matches = named.actor.threadId !== undefined ? named.actor.threadId === actor.threadId : named.actor.sessionId === actor.sessionId;
  if (matches) return;
  const caller = actor.threadId !== undefined ? `thread ${actor.threadId} of session ${actor.sessionId}` : `session ${actor.sessionId}`;
  const owner = named.actor.threadId !== undefined ? `thread ${named.actor.threadId}` : `session ${named.actor.sessionId}`;
  throw new CodestratorError('NOT_OWNER', `owner_session ${JSON.stringify(named.given)} names ${owner}, but the caller is ${caller}.`, {
    field: 'owner_session',
    hint: `Omit owner_session (a lock belongs to its caller), or pass your own: ${actor.sessionId}.`,
    data: { owner_session: named.given, caller: ownerKeyOf(actor) },
  });
}

/** Strict validation: unknown fields, wrong types and missing fields name the field and the expected params. */
export function parseParams(def: MethodDef, raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(
      `params of ${def.name} must be a JSON object.`,
      'params',
      `Call system.describe with method "${def.name}" for its schema.`,
    );
  }
  const parsed = (def.params as z.ZodType).safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : [];
  const path = [...issue.path, ...keys.slice(0, 1)].map(String).join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `${def.name} does not take ${keys.map((k) => JSON.stringify(k)).join(', ')}.`
      : `${def.name}: ${path || 'params'}: ${issue.message}.`;
  throw invalid(
    message,
    path || undefined,
    `Expected params: ${signature(def)}. system.describe {"method":"${def.name}"} gives the schema and an example.`,
  );
}

/** A one-line summary of a method's params: `a, b?, c?`. */
export function signature(def: MethodDef): string {
  const shape = (def.params as unknown as { shape?: Record<string, z.ZodType> }).shape ?? {};
  const fields = Object.entries(shape).map(([key, schema]) => (schema.safeParse(undefined).success ? `${key}?` : key));
  return fields.length > 0 ? fields.join(', ') : '(none)';
}

function asObject(result: unknown): Record<string, unknown> {
  if (Array.isArray(result)) return { items: result, count: result.length };
  if (typeof result === 'object' && result !== null) return result as Record<string, unknown>;
  return { value: result ?? null };
}

/**
 * Adapter failures (git, tmux, a busy or too-new database) are CodestratorErrors of their own
 * classes, so they keep their code. app/ is outside the registry's reach, so its WorkspaceError
 * (no repository here) is recognised by its name.
 */
function mapError(err: unknown): CodestratorError {
  if (err instanceof CodestratorError) return err;
  if (err instanceof Error && err.name === 'WorkspaceError')
    return new CodestratorError('PRECONDITION_FAILED', err.message, { cause: err });
  return toCodestratorError(err);
}
