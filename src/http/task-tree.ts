type Item = Record<string, unknown>;

/** A case as the page shows it. */
export interface CaseView {
  id: number;
  title: string;
  status: string;
  owner_key: string | null;
  group: string;
}

/** A feature with its progress: done / total cases (cancelled cases do not count). */
export interface FeatureView {
  id: number;
  title: string;
  status: string;
  done: number;
  total: number;
  in_progress: number;
  blocked: number;
  cases: CaseView[];
}

/** An epic and its features, in id order. */
export interface EpicView {
  id: number;
  title: string;
  status: string;
  features: FeatureView[];
}

/** The ledger as a tree, with counts over all cases. */
export interface TaskTree {
  epics: EpicView[];
  cases: { total: number; done: number; in_progress: number; blocked: number; todo: number };
}

const str = (value: unknown): string => (typeof value === 'string' ? value : String(value ?? ''));

/**
 * Builds epic → feature → (test group) → case from task.list rows (ascending id). Levels are
 * checked on insert, so every case has a group, every group a feature, every feature an epic; a row
 * whose parent is missing anyway is left out rather than guessed at.
 */
export function buildTaskTree(tasks: readonly Item[]): TaskTree {
  const epics = new Map<number, EpicView>();
  const features = new Map<number, FeatureView>();
  const groups = new Map<number, { feature: FeatureView; title: string }>();
  const totals = { total: 0, done: 0, in_progress: 0, blocked: 0, todo: 0 };
  for (const task of tasks) {
    const id = Number(task.id);
    const parent = Number(task.parent_id);
    const base = { id, title: str(task.title), status: str(task.status) };
    switch (task.level) {
      case 'epic':
        epics.set(id, { ...base, features: [] });
        break;
      case 'feature': {
        const feature: FeatureView = { ...base, done: 0, total: 0, in_progress: 0, blocked: 0, cases: [] };
        features.set(id, feature);
        epics.get(parent)?.features.push(feature);
        break;
      }
      case 'test_group': {
        const feature = features.get(parent);
        if (feature) groups.set(id, { feature, title: base.title });
        break;
      }
      case 'case': {
        const group = groups.get(parent);
        if (!group) break;
        const owner = typeof task.owner_key === 'string' ? task.owner_key : null;
        group.feature.cases.push({ ...base, owner_key: owner, group: group.title });
        if (base.status === 'cancelled') break;
        group.feature.total += 1;
        totals.total += 1;
        if (base.status === 'done' || base.status === 'in_progress' || base.status === 'blocked' || base.status === 'todo') {
          totals[base.status] += 1;
          if (base.status !== 'todo') group.feature[base.status] += 1;
        }
        break;
      }
    }
  }
  return { epics: [...epics.values()], cases: totals };
}
