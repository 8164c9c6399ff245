import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/database.js';
import { migrations } from '../src/store/migrations/index.js';
import { retryBusy } from '../src/store/retry.js';

const dir = mkdtempSync(join(tmpdir(), 'cs-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteStore', () => {
  it('opens in WAL mode with foreign keys and upgrades a database made by an older version', () => {
    const path = join(dir, 'upgrade.db');
    const old = new SqliteStore(path, { migrations: migrations.slice(0, 1) });
    expect(old.schemaVersion).toBe(1);
    old.write((sql) => sql.run("INSERT INTO tasks (level, title, status, created_at, updated_at) VALUES ('epic', 'kept', 'todo', 1, 1)"));
    old.close();
    const current = new SqliteStore(path);
    expect(current.schemaVersion).toBe(migrations[migrations.length - 1]!.version);
    expect(current.read((sql) => sql.get<{ title: string }>('SELECT title FROM tasks'))).toEqual({ title: 'kept' });
    expect(current.read((sql) => sql.all('SELECT name FROM sqlite_master WHERE name = ?', ['graph_nodes']))).toHaveLength(1);
    current.close();
    const raw = new Database(path);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('refuses a database newer than this code', () => {
    const path = join(dir, 'newer.db');
    new SqliteStore(path).close();
    const raw = new Database(path);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => new SqliteStore(path)).toThrow(/schema version 99, newer/);
  });

  it('bumps the ledger version only for writes that change rows and count as ledger changes', () => {
    const store = new SqliteStore(join(dir, 'ledger.db'));
    const version = () => store.read((sql) => sql.get<{ v: number }>('SELECT ledger_version AS v FROM meta')!.v);
    const start = version();
    store.write((sql) => sql.run("UPDATE tasks SET title = 'x' WHERE id = -1"));
    expect(version()).toBe(start);
    store.write((sql) => sql.run("INSERT INTO tasks (level, title, status, created_at, updated_at) VALUES ('epic', 'e', 'todo', 1, 1)"));
    expect(version()).toBe(start + 1);
    store.write((sql) => sql.run("UPDATE tasks SET title = 'y'"), { ledger: false });
    expect(version()).toBe(start + 1);
    store.write((sql) =>
      sql.get("INSERT INTO tasks (level, title, status, created_at, updated_at) VALUES ('epic', 'r', 'todo', 1, 1) RETURNING id"),
    );
    expect(version()).toBe(start + 2);
    store.write((sql) => sql.get("UPDATE tasks SET title = 'z' WHERE id = -1 RETURNING id"));
    expect(version()).toBe(start + 2);
    expect(() => store.write(() => store.write(() => 1))).toThrow(/Nested/);
    expect(() =>
      store.write((sql) => sql.run("INSERT INTO tasks (level, title, status, created_at, updated_at) VALUES ('bogus', 'e', 'todo', 1, 1)")),
    ).toThrow(/CHECK/);
    expect(() =>
      store.write((sql) =>
        sql.run("INSERT INTO tasks (level, parent_id, title, status, created_at, updated_at) VALUES ('feature', 999, 'e', 'todo', 1, 1)"),
      ),
    ).toThrow(/FOREIGN KEY/);
    store.close();
  });

  it('finds active locks through the partial index of live rows, however long the history', () => {
    const store = new SqliteStore(join(dir, 'lock-plans.db'));
    const plan = (query: string) =>
      store
        .read((sql) => sql.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, []))
        .map((row) => row.detail)
        .join(' | ');
    for (const where of ["state = 'active' AND lease_until > 0", "owner_key = 'session:1' AND state = 'active'", "state = 'active'"]) {
      expect(plan(`SELECT * FROM locks WHERE ${where} ORDER BY id`)).toBe('SEARCH locks USING INDEX locks_live (state=?)');
    }
    expect(plan("UPDATE locks SET state = 'released' WHERE state = 'active' AND lease_until <= 0")).toBe(
      'SEARCH locks USING INDEX locks_live (state=?)',
    );
    store.close();
  });

  it('returns rows as plain objects whatever the column names are', () => {
    const store = new SqliteStore(join(dir, 'names.db'));
    const row = store.read((sql) =>
      sql.get<Record<string, unknown>>(`SELECT 1 AS "__proto__", 'a' AS "x""y}\`\${z}", 2 AS id, 3 AS id, NULL AS "n"`),
    )!;
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.entries(row)).toEqual([
      ['__proto__', 1],
      ['x"y}`${z}', 'a'],
      ['id', 3], // a repeated name keeps the last value, as better-sqlite3's own rows do
      ['n', null],
    ]);
    expect(store.read((sql) => sql.all('SELECT 1 AS a WHERE 0'))).toEqual([]);
    store.close();
  });

  it('rolls a failed write back whole', () => {
    const store = new SqliteStore(join(dir, 'rollback.db'));
    expect(() =>
      store.write((sql) => {
        sql.run("INSERT INTO tasks (level, title, status, created_at, updated_at) VALUES ('epic', 'half', 'todo', 1, 1)");
        throw new Error('midway');
      }),
    ).toThrow('midway');
    expect(store.read((sql) => sql.get<{ n: number }>('SELECT count(*) AS n FROM tasks'))).toEqual({ n: 0 });
    store.close();
  });
});

describe('retryBusy', () => {
  it('retries SQLITE_BUSY and gives up with a BusyError after its budget', () => {
    let attempts = 0;
    const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    expect(
      retryBusy(() => {
        attempts++;
        if (attempts < 3) throw busy();
        return 'done';
      }),
    ).toBe('done');
    expect(attempts).toBe(3);
    expect(() =>
      retryBusy(() => {
        throw busy();
      }, 50),
    ).toThrow(/stayed locked/);
    expect(() =>
      retryBusy(() => {
        throw new Error('other');
      }),
    ).toThrow('other');
  });
});
