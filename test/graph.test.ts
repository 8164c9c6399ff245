import { DEFAULT_CONFIG } from '../src/core/config.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CoreContext } from '../src/core/context.js';
import { CodestratorError } from '../src/core/errors.js';
import {
  createEdge,
  createNode,
  getNodeView,
  listChecklist,
  listEdges,
  listNodes,
  listSnapshots,
  upsertChecklistItem,
} from '../src/core/graph.js';
import { approveRollup, bootstrapPlan, generateSlices, previewRollup, rejectRollup, replanSlice, submitRollup } from '../src/core/plans.js';
import { graphMethods } from '../src/methods/graph.js';
import { planMethods } from '../src/methods/plan.js';
import { SqliteStore } from '../src/store/database.js';

let dir: string;
let store: SqliteStore;
let ctx: CoreContext;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'codestrator-graph-'));
  store = new SqliteStore(join(dir, 'state', 'codestrator.db'));
  ctx = {
    store,
    now: Date.now,
    actor: {},
    workspace: {
      repoPath: dir,
      repoName: 'repo',
      stateDir: join(dir, 'state'),
      dbPath: join(dir, 'state', 'codestrator.db'),
      worktreesDir: join(dir, 'worktrees'),
      logsDir: join(dir, 'logs'),
      mirrorDir: join(dir, 'mirror'),
    },
    git: {} as never,
    files: {} as never,
    config: DEFAULT_CONFIG,
    gate: {} as never,
    tmux: {} as never,
    runners: {} as never,
    runtime: {} as never,
  };
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs fn, which must throw a CodestratorError, and returns that error. */
function failure(fn: () => unknown): CodestratorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CodestratorError);
    return err as CodestratorError;
  }
  throw new Error('expected the call to fail');
}

const node = (title: string, extra: Partial<Parameters<typeof createNode>[1]> = {}) =>
  createNode(ctx, { node_type: 'task', title, ...extra }).node;
const count = (table: string) => store.read((sql) => sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)!.n);

describe('graph nodes', () => {
  it('applies defaults and parses affected_files', () => {
    const created = node('A', { affected_files: ['src/a.ts', 'src/a.ts', 'src/b.ts'] });
    expect(created).toMatchObject({ facet: 'planning', status: 'todo', approval_state: 'none', priority: 0 });
    expect(created.affected_files).toEqual(['src/a.ts', 'src/b.ts']);
    expect(getNodeView(ctx, { node_id: created.id }).node.affected_files).toEqual(['src/a.ts', 'src/b.ts']);
  });

  it('refuses ids that name nothing, naming the field', () => {
    expect(failure(() => node('A', { parent_id: 99 }))).toMatchObject({ code: 'NOT_FOUND', field: 'parent_id' });
    expect(failure(() => node('A', { worktree_id: 99 }))).toMatchObject({ code: 'NOT_FOUND', field: 'worktree_id' });
    expect(failure(() => node('A', { owner_session_id: 99 }))).toMatchObject({ code: 'NOT_FOUND', field: 'owner_session_id' });
    expect(count('graph_nodes')).toBe(0);
  });

  it('pages lists with a cursor and filters', () => {
    const parent = node('P');
    const ids = [1, 2, 3, 4, 5].map((n) => node(`child ${n}`, { parent_id: parent.id }).id);
    const first = listNodes(ctx, { parent_id: parent.id, limit: 2 });
    expect(first.items.map((n) => n.id)).toEqual(ids.slice(0, 2));
    expect(first.next_cursor).toBeDefined();
    const second = listNodes(ctx, { parent_id: parent.id, limit: 2, cursor: first.next_cursor });
    expect(second.items.map((n) => n.id)).toEqual(ids.slice(2, 4));
    const last = listNodes(ctx, { parent_id: parent.id, limit: 2, cursor: second.next_cursor });
    expect(last).toMatchObject({ count: 1, items: [{ id: ids[4] }] });
    expect(last.next_cursor).toBeUndefined();
    expect(listNodes(ctx, { status: 'done' }).count).toBe(0);
    expect(failure(() => listNodes(ctx, { cursor: 'bogus' }))).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'cursor' });
  });
});

describe('graph edges', () => {
  it('refuses a duplicate edge, naming the existing one', () => {
    const [a, b] = [node('A'), node('B')];
    const { edge } = createEdge(ctx, { from_node_id: a.id, to_node_id: b.id, edge_type: 'contains' });
    const err = failure(() => createEdge(ctx, { from_node_id: a.id, to_node_id: b.id, edge_type: 'contains' }));
    expect(err).toMatchObject({ code: 'CONFLICT', data: { edge_id: edge.id } });
    expect(err.message).toContain(`Edge ${edge.id}`);
    // Another type between the same nodes is a different edge.
    createEdge(ctx, { from_node_id: a.id, to_node_id: b.id, edge_type: 'depends_on' });
    expect(listEdges(ctx, { node_id: b.id }).count).toBe(2);
    expect(listEdges(ctx, { edge_type: 'contains' }).count).toBe(1);
  });

  it('refuses self-edges and missing endpoints', () => {
    const a = node('A');
    expect(failure(() => createEdge(ctx, { from_node_id: a.id, to_node_id: a.id, edge_type: 'contains' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(failure(() => createEdge(ctx, { from_node_id: 99, to_node_id: a.id, edge_type: 'contains' }))).toMatchObject({
      code: 'NOT_FOUND',
      field: 'from_node_id',
    });
    expect(failure(() => createEdge(ctx, { from_node_id: a.id, to_node_id: 99, edge_type: 'contains' }))).toMatchObject({
      code: 'NOT_FOUND',
      field: 'to_node_id',
    });
  });

  it('refuses a dependency edge that closes a cycle, reading blocks as the reverse of depends_on', () => {
    const [a, b, c] = [node('A'), node('B'), node('C')];
    createEdge(ctx, { from_node_id: a.id, to_node_id: b.id, edge_type: 'depends_on' });
    createEdge(ctx, { from_node_id: b.id, to_node_id: c.id, edge_type: 'depends_on' });
    expect(failure(() => createEdge(ctx, { from_node_id: c.id, to_node_id: a.id, edge_type: 'depends_on' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    // A blocks C means C waits for A, while A already waits (via B) for C.
    expect(failure(() => createEdge(ctx, { from_node_id: a.id, to_node_id: c.id, edge_type: 'blocks' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    // C blocks A says the same as A depends_on C: no cycle.
    createEdge(ctx, { from_node_id: c.id, to_node_id: a.id, edge_type: 'blocks' });
    // Non-dependency edges may go anywhere.
    createEdge(ctx, { from_node_id: c.id, to_node_id: a.id, edge_type: 'contains' });
    expect(count('graph_edges')).toBe(4);
  });
});

describe('checklists and snapshots', () => {
  it('upserts in place by (node_id, facet, order_no) and appends when order_no is omitted', () => {
    const a = node('A');
    const first = upsertChecklistItem(ctx, { node_id: a.id, item_text: 'write test' });
    const second = upsertChecklistItem(ctx, { node_id: a.id, item_text: 'fix bug', status: 'in_progress' });
    expect([first.item.order_no, second.item.order_no]).toEqual([1, 2]);
    const updated = upsertChecklistItem(ctx, { node_id: a.id, order_no: 2, item_text: 'fix the bug' });
    expect(updated).toMatchObject({ created: false, item: { id: second.item.id, item_text: 'fix the bug', status: 'in_progress' } });
    const review = upsertChecklistItem(ctx, { node_id: a.id, item_text: 'review', facet: 'review' });
    expect(review.item.order_no).toBe(1);
    expect(listChecklist(ctx, { node_id: a.id }).count).toBe(3);
    expect(listChecklist(ctx, { node_id: a.id, facet: 'planning' }).items.map((i) => i.item_text)).toEqual(['write test', 'fix the bug']);
    expect(failure(() => upsertChecklistItem(ctx, { node_id: 99, item_text: 'x' }))).toMatchObject({ code: 'NOT_FOUND', field: 'node_id' });
  });
});

describe('plans', () => {
  it('bootstraps an initiative, a plan and a contains edge, or nothing', () => {
    const { initiative, plan, edge } = bootstrapPlan(ctx, { initiative_title: 'I', plan_title: 'P', priority: 3 });
    expect(initiative).toMatchObject({ node_type: 'initiative', status: 'in_progress', priority: 3 });
    expect(plan).toMatchObject({ node_type: 'plan', status: 'todo', parent_id: initiative.id });
    expect(edge).toMatchObject({ from_node_id: initiative.id, to_node_id: plan.id, edge_type: 'contains' });
    expect(failure(() => bootstrapPlan(ctx, { initiative_title: 'I2', plan_title: 'P2', owner_session_id: 42 }))).toMatchObject({
      code: 'NOT_FOUND',
      field: 'owner_session_id',
    });
    expect(count('graph_nodes')).toBe(2);
  });

  it('generates all slices or none, naming the offending slice', () => {
    const { initiative, plan } = bootstrapPlan(ctx, { initiative_title: 'I', plan_title: 'P' });
    const specs = [
      { title: 'one', token_estimate: 1000 },
      { title: 'two', affected_files: ['a.ts'] },
      { title: 'too big', token_estimate: 20_000 },
    ];
    const err = failure(() => generateSlices(ctx, { plan_node_id: plan.id, slice_specs: specs }));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'slice_specs.2.token_estimate' });
    expect(err.message).toContain('too big');
    expect(listNodes(ctx, { parent_id: plan.id }).count).toBe(0);
    expect(count('graph_edges')).toBe(1);

    const files = Array.from({ length: 4 }, (_, i) => `f${i}.ts`);
    const tooMany = failure(() =>
      generateSlices(ctx, { plan_node_id: plan.id, slice_specs: [{ title: 'wide', affected_files: files }], max_files_per_slice: 3 }),
    );
    expect(tooMany).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'slice_specs.0.affected_files' });
    expect(failure(() => generateSlices(ctx, { plan_node_id: initiative.id, slice_specs: [{ title: 'x' }] }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'plan_node_id',
    });

    const ok = generateSlices(ctx, { plan_node_id: plan.id, slice_specs: specs.slice(0, 2) });
    expect(ok.slices.map((s) => [s.title, s.node_type, s.status, s.parent_id])).toEqual([
      ['one', 'slice', 'todo', plan.id],
      ['two', 'slice', 'todo', plan.id],
    ]);
    expect(ok.slices[1]!.affected_files).toEqual(['a.ts']);
    expect(ok.edges.every((e) => e.from_node_id === plan.id && e.edge_type === 'contains')).toBe(true);
  });

  it('replans with a snapshot and updates affected_files', () => {
    const a = node('A', { affected_files: ['old.ts'] });
    const { snapshot, node: updated } = replanSlice(ctx, { node_id: a.id, reason: 'scope_change', affected_files: ['new.ts'] });
    expect(snapshot).toMatchObject({ snapshot_type: 'replan', summary: 'scope_change', affected_files: ['new.ts'] });
    expect(updated.affected_files).toEqual(['new.ts']);
    expect(listSnapshots(ctx, { node_id: a.id, snapshot_type: 'replan' }).count).toBe(1);
  });

  it('counts statuses over the whole subtree and lists direct children', () => {
    const { initiative, plan } = bootstrapPlan(ctx, { initiative_title: 'I', plan_title: 'P' });
    const { slices } = generateSlices(ctx, { plan_node_id: plan.id, slice_specs: [{ title: 's1' }, { title: 's2' }] });
    node('grandchild', { parent_id: slices[0]!.id, status: 'done' });
    const preview = previewRollup(ctx, { parent_node_id: initiative.id });
    expect(preview).toMatchObject({ total_count: 4, child_count: 1, status_counts: { todo: 3, done: 1 } });
    expect(preview.children.map((c) => c.id)).toEqual([plan.id]);
    expect(previewRollup(ctx, { parent_node_id: plan.id })).toMatchObject({ total_count: 3, child_count: 2 });
  });

  it('runs the rollup state machine: approve only from pending, reject then re-submit', () => {
    const a = node('A');
    expect(failure(() => approveRollup(ctx, { node_id: a.id }))).toMatchObject({ code: 'PRECONDITION_FAILED', field: 'node_id' });
    expect(failure(() => rejectRollup(ctx, { node_id: a.id }))).toMatchObject({ code: 'PRECONDITION_FAILED' });

    expect(submitRollup(ctx, { node_id: a.id, summary: 'done' }).node).toMatchObject({ approval_state: 'pending', status: 'in_review' });
    expect(failure(() => submitRollup(ctx, { node_id: a.id }))).toMatchObject({ code: 'PRECONDITION_FAILED' });

    const rejected = rejectRollup(ctx, { node_id: a.id, reason: 'missing tests' });
    expect(rejected.node).toMatchObject({ approval_state: 'rejected', status: 'blocked' });
    expect(rejected.snapshot).toMatchObject({ snapshot_type: 'rollup_rejected', summary: 'missing tests' });
    expect(failure(() => approveRollup(ctx, { node_id: a.id }))).toMatchObject({ code: 'PRECONDITION_FAILED' });

    expect(submitRollup(ctx, { node_id: a.id }).node.approval_state).toBe('pending');
    expect(approveRollup(ctx, { node_id: a.id }).node).toMatchObject({ approval_state: 'approved', status: 'done' });
    expect(failure(() => submitRollup(ctx, { node_id: a.id }))).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(failure(() => rejectRollup(ctx, { node_id: a.id }))).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(listSnapshots(ctx, { node_id: a.id }).items.map((s) => s.snapshot_type)).toEqual(['rollup', 'rollup_rejected', 'rollup']);
    expect(failure(() => approveRollup(ctx, { node_id: 99 }))).toMatchObject({ code: 'NOT_FOUND', field: 'node_id' });
  });
});

describe('method table', () => {
  it('has a valid example for every method and rejects unknown params', () => {
    const methods = [...graphMethods, ...planMethods];
    expect(methods).toHaveLength(16);
    for (const def of methods) {
      expect(def.params.safeParse(def.example).success, def.name).toBe(true);
      expect(def.params.safeParse({ ...(def.example as object), bogus: 1 }).success, def.name).toBe(false);
    }
  });
});
