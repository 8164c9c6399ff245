import type { Migration } from './index.js';

/** The planning graph: nodes, typed edges, checklists and snapshots (plans, slices, rollups). */
export const migration002: Migration = {
  version: 2,
  name: 'planning-graph',
  sql: `
CREATE TABLE graph_nodes (
  id INTEGER PRIMARY KEY,
  node_type TEXT NOT NULL,
  facet TEXT NOT NULL,
  title TEXT NOT NULL,
  status TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  parent_id INTEGER REFERENCES graph_nodes(id),
  worktree_id INTEGER REFERENCES worktrees(id),
  owner_session_id INTEGER REFERENCES sessions(id),
  summary TEXT,
  risk_level INTEGER,
  token_estimate INTEGER,
  affected_files TEXT NOT NULL DEFAULT '[]',
  approval_state TEXT NOT NULL CHECK (approval_state IN ('none', 'pending', 'approved', 'rejected')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX graph_nodes_parent ON graph_nodes(parent_id);
CREATE INDEX graph_nodes_type ON graph_nodes(node_type, status);

CREATE TABLE graph_edges (
  id INTEGER PRIMARY KEY,
  from_node_id INTEGER NOT NULL REFERENCES graph_nodes(id),
  to_node_id INTEGER NOT NULL REFERENCES graph_nodes(id),
  edge_type TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (from_node_id, to_node_id, edge_type)
);
CREATE INDEX graph_edges_to ON graph_edges(to_node_id);

CREATE TABLE graph_checklists (
  id INTEGER PRIMARY KEY,
  node_id INTEGER NOT NULL REFERENCES graph_nodes(id),
  facet TEXT NOT NULL,
  order_no INTEGER NOT NULL,
  item_text TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (node_id, facet, order_no)
);

CREATE TABLE graph_snapshots (
  id INTEGER PRIMARY KEY,
  node_id INTEGER NOT NULL REFERENCES graph_nodes(id),
  snapshot_type TEXT NOT NULL,
  summary TEXT,
  affected_files TEXT NOT NULL DEFAULT '[]',
  next_action TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX graph_snapshots_node ON graph_snapshots(node_id, id);
`,
};
