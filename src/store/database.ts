import Database from 'better-sqlite3';
import type { Database as Db, Statement, Transaction } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
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

/** Raised when the database was written by a newer codestrator than this one. */
export class SchemaTooNewError extends Error {}

/**
 * The SQLite store shared by every codestrator process of a repository: WAL, busy_timeout,
 * foreign keys, versioned migrations applied on open, and transactions that retry on SQLITE_BUSY.
 */
export class SqliteStore {
  readonly path: string;
  readonly schemaVersion: number;
  private readonly db: Db;
  private readonly statements = new Map<string, Statement>();
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
            this.stmt('UPDATE meta SET ledger_version = ledger_version + 1 WHERE id = 1').run();
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
    get: <T>(sql: string, params: SqlParams = []) => this.bind(sql, params, (s, p) => this.returning(s, s.get(p))) as T | undefined,
    all: <T>(sql: string, params: SqlParams = []) => this.bind(sql, params, (s, p) => this.returning(s, s.all(p))) as T[],
    run: (sql: string, params: SqlParams = []) => {
      const info = this.bind(sql, params, (s, p) => s.run(p));
      this.changes += info.changes;
      return { changes: info.changes, lastInsertRowid: Number(info.lastInsertRowid) };
    },
  };

  /** A writing statement read through get/all (… RETURNING) that returned rows changed the ledger. */
  private returning<R>(statement: Statement, rows: R): R {
    if (!statement.readonly && rows !== undefined && (!Array.isArray(rows) || rows.length > 0)) this.changes++;
    return rows;
  }

  private bind<R>(sql: string, params: SqlParams, call: (s: Statement, p: unknown) => R): R {
    const statement = this.stmt(sql);
    return Array.isArray(params) ? call(statement, params) : call(statement, params);
  }

  private stmt(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Applies pending migrations under a write lock, so concurrent openers migrate once. */
  private migrate(list: readonly Migration[]): number {
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
          for (const migration of list) {
            if (migration.version <= current) continue;
            this.db.exec(migration.sql);
            this.db.pragma(`user_version = ${migration.version}`);
          }
          return Math.max(current, target);
        })
        .immediate(),
    );
  }
}
