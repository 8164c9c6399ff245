// The conflict matrix: branches against the target and each other, from worktree.conflicts.

import { $, empty, h, replace } from './dom.js?token=__TOKEN__';

export function renderConflicts(state) {
  const el = $('conflicts');
  const report = state.report;
  if (!report) {
    $('conflicts-count').textContent = '';
    return replace(el, empty(state.error ? `Not available: ${state.error.message}` : 'Computing…'));
  }
  const branches = report.branches ?? [];
  const pairs = report.pairs ?? [];
  const conflicting =
    pairs.filter((p) => p.conflict_files.length > 0).length + branches.filter((b) => b.conflicts_with_target.length > 0).length;
  $('conflicts-count').textContent = `${conflicting} conflicting · rechecked every few seconds`;
  if (branches.length === 0) return replace(el, empty('No active branches to compare.'));
  const pairOf = new Map(pairs.map((p) => [`${p.a}:${p.b}`, p]));
  const cell = (a, b) => {
    if (a.worktree_id === b.worktree_id) return h('td', { class: 'cell self' }, '');
    const [x, y] = a.worktree_id < b.worktree_id ? [a, b] : [b, a];
    const pair = pairOf.get(`${x.worktree_id}:${y.worktree_id}`);
    if (pair?.conflict_files.length)
      return h('td', { class: 'cell bad', title: `Conflicts: ${pair.conflict_files.join(', ')}` }, String(pair.conflict_files.length));
    if (pair?.overlapping_clean.length)
      return h('td', { class: 'cell warn', title: `Both change (merges cleanly): ${pair.overlapping_clean.join(', ')}` }, '≈');
    return h('td', { class: 'cell ok', title: 'No overlap' }, '·');
  };
  const short = (branch) => branch.replace(/^codestrator\//, '');
  const matrix = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'matrix' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, ''),
          h('th', { scope: 'col', class: 'target' }, short(report.target_branch)),
          branches.map((b) => h('th', { scope: 'col', title: b.branch }, short(b.branch))),
        ),
      ),
      h(
        'tbody',
        {},
        branches.map((a) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row', title: a.branch }, short(a.branch)),
            a.conflicts_with_target.length
              ? h(
                  'td',
                  { class: 'cell bad', title: `Conflicts: ${a.conflicts_with_target.join(', ')}` },
                  String(a.conflicts_with_target.length),
                )
              : h('td', { class: 'cell ok', title: 'Merges cleanly' }, '·'),
            branches.map((b) => cell(a, b)),
          ),
        ),
      ),
    ),
  );
  const list = [
    ...branches
      .filter((b) => b.conflicts_with_target.length > 0)
      .map((b) => [`${short(b.branch)} ↔ ${short(report.target_branch)}`, b.conflicts_with_target]),
    ...pairs.filter((p) => p.conflict_files.length > 0).map((p) => [`${short(p.a_branch)} ↔ ${short(p.b_branch)}`, p.conflict_files]),
  ];
  replace(
    el,
    matrix,
    h(
      'p',
      { class: 'legend' },
      h('span', { class: 'cell bad' }, 'n'),
      ' conflicting files ',
      h('span', { class: 'cell warn' }, '≈'),
      ' overlap, merges cleanly ',
      h('span', { class: 'cell ok' }, '·'),
      ' independent',
    ),
    list.length
      ? h(
          'ul',
          { class: 'conflict-list' },
          list.map(([between, files]) =>
            h(
              'li',
              {},
              h('strong', {}, between),
              ' ',
              files.map((f) => h('code', {}, f)),
            ),
          ),
        )
      : null,
  );
}
