/** Shapes of panes and windows as codestrator asks tmux for them, and how its answers are read. */

export interface PaneInfo {
  paneId: string;
  windowId: string;
  sessionName: string;
  pid: number;
  dead: boolean;
  deadStatus: number | null;
}

export interface NewWindow {
  session: string;
  windowName: string;
  cwd: string;
  argv: readonly string[];
}

/** A child's pane in a shared window of its session's viewer (see openPane). */
export interface NewPane {
  session: string;
  /** Base name of the children's windows: the first is `name`, more are `name-2`, `name-3`… */
  windowName: string;
  cwd: string;
  argv: readonly string[];
  /** Shown on the pane's border, so a person can tell the children apart. */
  title: string;
  /** vertical: panes stacked; horizontal: side by side; unset: tiled. */
  split?: 'vertical' | 'horizontal';
  /** Panes per window before another window is opened (default 4). */
  perWindow?: number;
}

export interface OpenedPane extends PaneInfo {
  windowName: string;
  layout: string;
}

export const LAYOUTS = { vertical: 'even-vertical', horizontal: 'even-horizontal' } as const;
export const PANES_PER_WINDOW = 4;

/** What tmux prints for each pane (-F), read by parsePanes. */
export const FORMAT = '#{pane_id}\t#{window_id}\t#{session_name}\t#{pane_pid}\t#{pane_dead}\t#{pane_dead_status}';

export function parsePanes(text: string): PaneInfo[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [paneId = '', windowId = '', sessionName = '', pid = '0', dead = '0', deadStatus = ''] = line.split('\t');
      return {
        paneId,
        windowId,
        sessionName,
        pid: Number(pid),
        dead: dead === '1',
        deadStatus: deadStatus === '' ? null : Number(deadStatus),
      };
    });
}

/** `base`, else the first free `base-N` after the windows there are. */
export function nextWindowName(base: string, windows: readonly { name: string }[]): string {
  if (!windows.some((window) => window.name === base)) return base;
  let n = 2;
  while (windows.some((window) => window.name === `${base}-${n}`)) n++;
  return `${base}-${n}`;
}
