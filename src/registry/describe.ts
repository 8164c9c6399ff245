import { z } from 'zod';
import type { MethodDef } from './define.js';
import { signature } from './dispatch.js';

/** A method's params as JSON Schema (what a caller sends), with an example call. */
export function paramsJsonSchema(def: MethodDef): Record<string, unknown> {
  const schema = z.toJSONSchema(def.params, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  return schema;
}

export function describeMethod(def: MethodDef) {
  return {
    method: def.name,
    tool: def.group,
    summary: def.summary,
    mutates: def.mutates,
    signature: signature(def),
    params_schema: paramsJsonSchema(def),
    example: { tool: def.group, arguments: { method: def.name, params: def.example } },
  };
}
