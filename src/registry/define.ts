import type { z } from 'zod';
import type { CoreContext } from '../core/context.js';

/** The nine MCP tools; every method belongs to exactly one. */
export const GROUPS = [
  'orch_session',
  'orch_task',
  'orch_graph',
  'orch_workspace',
  'orch_thread',
  'orch_lifecycle',
  'orch_merge',
  'orch_inbox',
  'orch_system',
] as const;
export type Group = (typeof GROUPS)[number];

/** What a handler receives besides its parsed params. */
export interface HandlerContext extends CoreContext {
  /** The method table, for methods that describe other methods (system.describe). */
  registry: Registry;
}

/** One entry of the method table: everything surfaces generate (tools, CLI, docs, schemas) comes from here. */
export interface MethodDef<S extends z.ZodType = z.ZodType> {
  name: string;
  group: Group;
  summary: string;
  params: S;
  /** A valid params object, shown by system.describe and checked by a test. */
  example: z.input<S>;
  /** Whether the method can change state (read-only methods never write). */
  mutates: boolean;
  /**
   * Where the caller's identity comes from: `params` (session_id/thread_id in the params, else the
   * environment; the default), `env` (the params' session_id names a target, not the caller), or
   * `none` (the method does not care who calls).
   */
  identity?: 'params' | 'env' | 'none';
  /**
   * Whether a call made as a closed or taken-over session (or one of its threads) is refused.
   * Default: every mutating method; a method that answers such a caller itself says when.
   */
  fenced?: boolean | ((params: z.output<S>) => boolean);
  /** For methods that open or take over a session: its id, which the server then uses as its default. */
  adoptSession?: (result: unknown) => number | undefined;
  handler: (params: z.output<S>, ctx: HandlerContext) => unknown;
}

/** Keeps the params type tied to the handler's argument type. */
export const defineMethod = <S extends z.ZodType>(def: MethodDef<S>): MethodDef => def as unknown as MethodDef;

export interface Registry {
  readonly methods: ReadonlyMap<string, MethodDef>;
  byGroup(group: Group): MethodDef[];
}

export function createRegistry(defs: readonly MethodDef[]): Registry {
  const methods = new Map<string, MethodDef>();
  for (const def of defs) {
    if (methods.has(def.name)) throw new Error(`Method ${def.name} is defined twice.`);
    methods.set(def.name, def);
  }
  return {
    methods,
    byGroup: (group) => defs.filter((def) => def.group === group),
  };
}
