import Database from 'better-sqlite3';
import type { Database as Db, Statement, Transaction } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CodestratorError } from '../core/errors.js';
import { type Migration, migrations as allMigrations } from './migrations/index.js';
import { retryBusy } from './retry.js';

type SqlValue = string | number | bigint | null;
type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

export interface SqlSession {
  get<T>(sql: string, params?: SqlParams): T | undefined;
  all<T>(sql: string, params?: SqlParams): T[];
  run(sql: string, params?: SqlParams): { changes: number; lastInsertRowid: number };
}

export interface OpenOptions {
  /** The migrations to apply; tests pass a prefix of the list to build an older database. */
  migrations?: readonly Migration[];
  /** How long one statement waits on a lock held by another process. */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/** A cached statement; one that returns rows is in raw mode and builds each row with `toRow`. */
interface Prepared {
  statement: Statement;
  toRow?: (values: unknown[]) => Record<string, unknown>;
}

/**
 * Builds rows as object literals of one fixed shape. better-sqlite3's own row objects are slow
 * to copy (a spread of a 20-column row costs microseconds) and every wire view copies rows, so
 * reads take raw arrays and this generated constructor, whose keys are the statement's column
 * names (from our own SQL), JSON-quoted. A repeated name keeps the last value, as SQLite's rows do.
 * Names are read once per statement: the schema only changes in migrations, which run on open.
 */
function rowFactory(columns: readonly string[]): (values: unknown[]) => Record<string, unknown> {
  // `__proto__: x` in a literal would set the prototype; a computed key defines a plain property.
  const key = (name: string) => (name === '__proto__' ? `[${JSON.stringify(name)}]` : JSON.stringify(name));
  const fields = columns.map((name, index) => `${key(name)}: v[${index}]`).join(', ');
  return new Function('v', `return { ${fields} };`) as (values: unknown[]) => Record<string, unknown>;
}

/** Raised when the database was written by a newer codestrator than this one: PRECONDITION_FAILED. */
export class SchemaTooNewError extends CodestratorError {
  constructor(message: string) {
    super('PRECONDITION_FAILED', message, { hint: 'Run the codestrator that wrote this database, or a newer one.' });
    this.name = 'SchemaTooNewError';
  }
}

/**
 * The SQLite store shared by every codestrator process of a repository: WAL, busy_timeout,
 * foreign keys, versioned migrations applied on open, and transactions that retry on SQLITE_BUSY.
 */
export class SqliteStore {
  readonly path: string;
  readonly schemaVersion: number;
  private readonly db: Db;
  private readonly statements = new Map<string, Prepared>();
  private writeDepth = 0;
  private changes = 0;
  /** One reusable transaction wrapper: creating one per call costs more than a small write. */
  private readonly inTransaction: Transaction<(fn: () => unknown) => unknown>;

  constructor(path: string, options: OpenOptions = {}) {
    this.path = path;
    if (!options.readonly) mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, {
      timeout: options.busyTimeoutMs ?? 5000,
      ...(options.readonly ? { readonly: true, fileMustExist: true } : {}),
    });
    retryBusy(() => this.db.pragma('journal_mode = WAL'));
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.inTransaction = this.db.transaction((fn: () => unknown) => fn());
    this.schemaVersion = options.readonly
      ? (this.db.pragma('user_version', { simple: true }) as number)
      : this.migrate(options.migrations ?? allMigrations);
  }

  /** Runs fn against one consistent snapshot. Inside a write it joins that write. */
  read<T>(fn: (sql: SqlSession) => T): T {
    if (this.db.inTransaction) return fn(this.session);
    return retryBusy(() => this.inTransaction.deferred(() => fn(this.session)) as T);
  }

  /**
   * Runs fn in BEGIN IMMEDIATE, retrying the whole function on SQLITE_BUSY for about 5 s.
   * fn must be synchronous and free of side effects outside the database (it may run twice).
   * When any statement changed rows and `ledger` is not false, the ledger version is bumped
   * in the same transaction.
   */
  write<T>(fn: (sql: SqlSession) => T, options: { ledger?: boolean } = {}): T {
    if (this.writeDepth > 0) throw new Error('Nested write transactions are not allowed.');
    return retryBusy(() => {
      this.writeDepth++;
      this.changes = 0;
      try {
        return this.inTransaction.immediate(() => {
          const result = fn(this.session);
          if (this.changes > 0 && options.ledger !== false) {
            this.prepared('UPDATE meta SET ledger_version = ledger_version + 1 WHERE id = 1').statement.run();
          }
          return result;
        }) as T;
      } finally {
        this.writeDepth--;
      }
    });
  }

  close(): void {
    this.db.close();
  }

  /** Runs `PRAGMA integrity_check`; returns 'ok' for a sound file. */
  integrityCheck(): string {
    return (this.db.pragma('integrity_check', { simple: true }) as string) ?? 'unknown';
  }

  private readonly session: SqlSession = {
    get: <T>(sql: string, params: SqlParams = []) => {
      const prepared = this.prepared(sql);
      const values = prepared.statement.get(params as unknown[]) as unknown[] | undefined;
      this.countReturning(prepared, values === undefined ? 0 : 1);
      return (values === undefined ? undefined : prepared.toRow!(values)) as T | undefined;
    },
    all: <T>(sql: string, params: SqlParams = []) => {
      const prepared = this.prepared(sql);
      const rows = (prepared.statement.all(params as unknown[]) as unknown[][]).map(prepared.toRow!);
      this.countReturning(prepared, rows.length);
      return rows as T[];
    },
    run: (sql: string, params: SqlParams = []) => {
      const info = this.prepared(sql).statement.run(params as unknown[]);
      this.changes += info.changes;
      return { changes: info.changes, lastInsertRowid: Number(info.lastInsertRowid) };
    },
  };

  /** A writing statement read through get/all (… RETURNING) that returned rows changed the ledger. */
  private countReturning(prepared: Prepared, rows: number): void {
    if (!prepared.statement.readonly && rows > 0) this.changes++;
  }

  private prepared(sql: string): Prepared {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      const statement = this.db.prepare(sql);
      prepared = statement.reader
        ? { statement: statement.raw(true), toRow: rowFactory(statement.columns().map((c) => c.name)) }
        : { statement };
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  /**
   * Applies pending migrations under a write lock, so concurrent openers migrate once. Foreign keys
   * are off meanwhile (the pragma is a no-op inside a transaction), as SQLite prescribes for a table
   * rebuild, the only way to change a CHECK; foreign_key_check then vets the result before commit.
   */
  private migrate(list: readonly Migration[]): number {
    this.db.pragma('foreign_keys = OFF');
    try {
      return this.applyMigrations(list);
    } finally {
      this.db.pragma('foreign_keys = ON');
    }
  }

  private applyMigrations(list: readonly Migration[]): number {
    const target = list.length === 0 ? 0 : list[list.length - 1]!.version;
    return retryBusy(() =>
      this.db
        .transaction(() => {
          const current = this.db.pragma('user_version', { simple: true }) as number;
          if (current > target) {
            throw new SchemaTooNewError(
              `The state database ${this.path} has schema version ${current}, newer than this codestrator ` +
                `understands (${target}). Upgrade codestrator.`,
            );
          }
          let applied = false;
          for (const migration of list) {
            if (migration.version <= current) continue;
            this.db.exec(migration.sql);
            this.db.pragma(`user_version = ${migration.version}`);
            applied = true;
          }
          const broken = applied ? (this.db.pragma('foreign_key_check') as unknown[]) : [];
          if (broken.length > 0)
            throw new Error(`Migrating ${this.path} broke ${broken.length} foreign keys: ${JSON.stringify(broken[0])}`);
          return Math.max(current, target);
        })
        .immediate(),
    );
  }
}
