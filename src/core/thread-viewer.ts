import { createHash } from 'node:crypto';
import type { CoreContext } from './context.js';
import type { TmuxPort, Workspace } from './ports.js';
import { viewerSessionName } from './slug.js';
import { tmuxOf } from './thread-panes.js';
import type { ChildThreadRow } from './thread-rows.js';

/** tmux session option marking which repository a viewer session belongs to. */
export const REPO_TAG = '@codestrator_repo';
/** 50 ms apart: how long an untagged session of our name is given to be tagged by the spawn that made it. */
const TAG_WAIT_TRIES = 20;

const repoHash = (repoPath: string) => createHash('sha1').update(repoPath).digest('hex').slice(0, 6);

/**
 * The viewer session of a session's children: `{repository}-{worktree}-{hash}`, the hash taken from
 * the repository's path, so two clones with the same directory name never share (or advertise)
 * each other's viewer. session.open should name its viewer with this.
 */
export function repoViewerName(workspace: Pick<Workspace, 'repoName' | 'repoPath'>, slug: string): string {
  return `${viewerSessionName(workspace.repoName, slug).slice(0, 72)}-${repoHash(workspace.repoPath)}`;
}

/**
 * The viewer session to use: `base` when it is this repository's (tagged with its path) or free,
 * else `base-{hash}`: never a person's session of the same name, nor another repository's.
 */
export async function resolveViewer(ctx: CoreContext, tmux: TmuxPort, base: string): Promise<string> {
  const ours = `${base}-${repoHash(ctx.workspace.repoPath)}`;
  let tag = await tmux.sessionOption(base, REPO_TAG);
  if (tag === ctx.workspace.repoPath) return base;
  if (tag !== null) return ours; // another repository's
  if (!(await tmux.hasSession(base))) return base;
  // Untagged: a concurrent spawn may have created it and be about to tag it (a second tmux command).
  for (let wait = 0; wait < TAG_WAIT_TRIES && tag === null; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    tag = await tmux.sessionOption(base, REPO_TAG);
  }
  // Still untagged (a person's) or another repository's: never use theirs.
  return tag === ctx.workspace.repoPath ? base : ours;
}

const quote = (arg: string) => (/^[A-Za-z0-9_./@%:=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/**
 * How a person watches children without disturbing them: a read-only attach to the viewer session
 * (on the tmux server the threads run on), each argument quoted; select_window / select_pane only
 * when the thread has a window / pane. Never a command with an empty target.
 */
export function attachInfo(ctx: CoreContext, row: Pick<ChildThreadRow, 'tmux_session' | 'tmux_window_id' | 'pane_id' | 'runner_options'>) {
  if (!row.tmux_session) return null;
  const socketArgs = tmuxOf(ctx, row).socketArgs;
  const argv = ['tmux', ...socketArgs, 'attach', '-r', '-t', row.tmux_session];
  const target = (verb: string, id: string | null) => (id ? ['tmux', ...socketArgs, verb, '-t', id].map(quote).join(' ') : undefined);
  return {
    command: argv.map(quote).join(' '),
    attach_command: argv.map(quote).join(' '),
    argv,
    read_only: true,
    tmux_session: row.tmux_session,
    window_id: row.tmux_window_id,
    pane_id: row.pane_id,
    select_window: target('select-window', row.tmux_window_id),
    select_pane: target('select-pane', row.pane_id),
  };
}
