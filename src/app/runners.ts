import { join } from 'node:path';
import type { RunnerPort } from '../core/ports.js';
import { packageRoot } from '../registry/bundle-info.js';
import { buildLaunch } from '../runners/build.js';
import type { RunnerKind } from '../runners/types.js';
import { summarizeEvents } from '../runners/events.js';

/** The RunnerPort over the runner modules; programs are the compiled files in dist/runners. */
export const runnerAdapter: RunnerPort = {
  build: (input) => buildLaunch({ ...input, kind: input.kind as RunnerKind }),
  program: (name) => join(packageRoot, 'dist', 'runners', name),
  summarize: (events) => summarizeEvents(events),
};
