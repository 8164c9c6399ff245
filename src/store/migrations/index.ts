import { migration001 } from './001-ledger.js';
import { migration002 } from './002-planning-graph.js';
import { migration003 } from './003-git-plane.js';
import { migration004 } from './004-threads-runtime.js';
import { migration005 } from './005-thread-usage.js';
import { migration006 } from './006-thread-activity.js';
import { migration007 } from './007-live-locks-index.js';
import { migration008 } from './008-session-origin.js';
import { migration009 } from './009-review-jobs.js';
import { migration010 } from './010-planned-worktrees.js';
import { migration011 } from './011-lease-holders.js';

/** A forward-only schema step; `version` becomes PRAGMA user_version once applied. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Every migration in order. Listed explicitly (no directory scan) so the bundle is deterministic. */
export const migrations: readonly Migration[] = [
  migration001,
  migration002,
  migration003,
  migration004,
  migration005,
  migration006,
  migration007,
  migration008,
  migration009,
  migration010,
  migration011,
];
