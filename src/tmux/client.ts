import { type TmuxInstallReport, ensureTmuxInstalled, installLog } from './install.js';
import {
  FORMAT,
  LAYOUTS,
  type NewPane,
  type NewWindow,
  type OpenedPane,
  PANES_PER_WINDOW,
  type PaneInfo,
  nextWindowName,
  parsePanes,
} from './panes.js';
import { type TmuxOptions, runTmux } from './run-tmux.js';

export type { NewPane, NewWindow, OpenedPane, PaneInfo } from './panes.js';

/** Pane placement is check-then-act: one at a time per tmux session within this process. */
const placing = new Map<string, Promise<unknown>>();

/**
 * tmux operations codestrator needs (environment goes through pane-wrap's env file, not `-e`, which
 * tmux does not apply to PATH), addressed by ids (`%N` panes, `@N` windows), never by
 * `session:0`, so users' base-index settings change nothing. Commands run without a shell:
 * tmux execs the argv it is given when it has more than one element.
 */
export class TmuxClient {
  readonly socketArgs: readonly string[];
  readonly socket: string | null;

  constructor(private readonly options: TmuxOptions = {}) {
    this.socket = options.socket || null;
    this.socketArgs = this.socket ? ['-L', this.socket] : [];
  }

  /** A client of another server (a thread records the one it was launched on), with the same timeout. */
  on(socket: string | null): TmuxClient {
    if ((socket || null) === this.socket) return this;
    const { socket: _mine, ...rest } = this.options;
    return new TmuxClient(socket ? { ...rest, socket } : rest);
  }

  private run(args: readonly string[]): Promise<string> {
    return runTmux(args, this.options);
  }

  async version(): Promise<string | null> {
    try {
      return (await this.run(['-V'])).trim();
    } catch {
      return null;
    }
  }

  async hasSession(name: string): Promise<boolean> {
    try {
      await this.run(['has-session', '-t', `=${name}`]);
      return true;
    } catch {
      return false;
    }
  }

  async sessionOption(name: string, option: string): Promise<string | null> {
    try {
      return (await this.run(['show-options', '-v', '-t', `=${name}:`, option])).trim() || null;
    } catch {
      return null;
    }
  }

  /** Opens a window for a child (creating the detached session on first use); returns its pane. */
  async openWindow(spec: NewWindow, sessionTag: { option: string; value: string }): Promise<PaneInfo> {
    const format = ['-P', '-F', FORMAT];
    // The command's first element is an absolute path, so tmux never reads it as an option.
    const newWindow = () =>
      this.run(['new-window', '-d', ...format, '-t', `=${spec.session}:`, '-n', spec.windowName, '-c', spec.cwd, ...spec.argv]);
    // The session closes with its last window, and other processes spawn too: if it vanished (or
    // appeared) between the check and the command, the other command is right.
    const exists = await this.hasSession(spec.session);
    const output = exists
      ? await newWindow().catch(() => this.createSession(spec, format, sessionTag))
      : await this.createSession(spec, format, sessionTag).catch(() => newWindow());
    const pane = parsePanes(output)[0];
    if (!pane) throw new Error(`tmux did not report the new pane for ${spec.windowName}`);
    return pane;
  }

  /**
   * Opens a child's pane in its session's children window, so one read-only attach shows them all:
   * split into the first window with room (at most perWindow panes), else a new window; then the
   * window is laid out again (tiled, or evenly in the split direction). The session is created on
   * first use and tagged. Concurrent spawns of other processes may overfill a window by a pane.
   */
  async openPane(spec: NewPane, sessionTag: { option: string; value: string }): Promise<OpenedPane> {
    const key = `${this.socket ?? ''}\n${spec.session}`;
    const previous = placing.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.placePane(spec, sessionTag));
    placing.set(key, next);
    try {
      return await next;
    } finally {
      if (placing.get(key) === next) placing.delete(key);
    }
  }

  private async placePane(spec: NewPane, sessionTag: { option: string; value: string }): Promise<OpenedPane> {
    const format = ['-P', '-F', FORMAT];
    const layout = spec.split ? LAYOUTS[spec.split] : 'tiled';
    let output: string | undefined;
    let windowName = spec.windowName;
    if (!(await this.hasSession(spec.session))) {
      // Another process may create it first: then a pane goes into its window below.
      output = await this.createSession(spec, format, sessionTag).catch(() => undefined);
    }
    if (output === undefined) {
      const windows = await this.childWindows(spec.session, spec.windowName);
      const room = windows.find((window) => window.panes < (spec.perWindow ?? PANES_PER_WINDOW));
      if (room) {
        windowName = room.name;
        const direction = spec.split === 'horizontal' ? '-h' : '-v';
        output = await this.run(['split-window', '-d', ...format, '-t', room.id, direction, '-c', spec.cwd, ...spec.argv]).catch(
          () => undefined, // The window closed meanwhile, or has no space left: a new window instead.
        );
      }
      if (output === undefined) {
        windowName = nextWindowName(spec.windowName, windows);
        output = await this.run([
          'new-window',
          '-d',
          ...format,
          '-t',
          `=${spec.session}:`,
          '-n',
          windowName,
          '-c',
          spec.cwd,
          ...spec.argv,
        ]).catch(() => undefined);
      }
      if (output === undefined) {
        // The session closed with its last pane (a child that just ended) after it was seen: make it again.
        windowName = spec.windowName;
        output = await this.createSession(spec, format, sessionTag);
      }
    }
    const pane = parsePanes(output)[0];
    if (!pane) throw new Error(`tmux did not report the new pane for ${spec.title}`);
    // Presentation only: a failure here leaves a working pane.
    await this.run(['select-pane', '-t', pane.paneId, '-T', spec.title]).catch(() => undefined);
    await this.run(['set-option', '-w', '-t', pane.windowId, 'pane-border-status', 'top']).catch(() => undefined);
    await this.run(['set-option', '-w', '-t', pane.windowId, 'pane-border-format', ' #{pane_title} ']).catch(() => undefined);
    await this.selectLayout(pane.windowId, layout);
    return { ...pane, windowName, layout };
  }

  /** The session's children windows (named `base` or `base-N`), with their pane counts. */
  private async childWindows(session: string, base: string): Promise<{ id: string; name: string; panes: number }[]> {
    try {
      const text = await this.run(['list-windows', '-t', `=${session}`, '-F', '#{window_id}\t#{window_name}\t#{window_panes}']);
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [id = '', name = '', panes = '0'] = line.split('\t');
          return { id, name, panes: Number(panes) };
        })
        .filter(
          (window) => window.name === base || (window.name.startsWith(`${base}-`) && /^\d+$/.test(window.name.slice(base.length + 1))),
        );
    } catch {
      return [];
    }
  }

  /** Lays a window out again (after a pane opened or closed); a window that is gone is no error. */
  async selectLayout(windowId: string, layout: string): Promise<void> {
    await this.run(['select-layout', '-t', windowId, layout]).catch(() => undefined);
  }

  async killPane(paneId: string): Promise<void> {
    await this.run(['kill-pane', '-t', paneId]).catch(() => undefined);
  }

  private async createSession(spec: NewWindow, format: string[], tag: { option: string; value: string }): Promise<string> {
    const output = await this.run([
      'new-session',
      '-d',
      ...format,
      '-s',
      spec.session,
      '-n',
      spec.windowName,
      '-x',
      '220',
      '-y',
      '50',
      '-c',
      spec.cwd,
      ...spec.argv,
    ]);
    await this.run(['set-option', '-t', `=${spec.session}:`, tag.option, tag.value]);
    return output;
  }

  /** Every pane of the server (one call), so status reads cost one tmux process. */
  async listPanes(): Promise<PaneInfo[]> {
    try {
      return parsePanes(await this.run(['list-panes', '-a', '-F', FORMAT]));
    } catch {
      return []; // No server running: no panes.
    }
  }

  /** Types text literally (no key-name interpretation), then Enter as a separate key. */
  async typeText(paneId: string, text: string): Promise<void> {
    await this.run(['send-keys', '-t', paneId, '-l', '--', text]);
    await this.run(['send-keys', '-t', paneId, 'Enter']);
  }

  async sendKey(paneId: string, key: string): Promise<void> {
    await this.run(['send-keys', '-t', paneId, key]);
  }

  async capture(paneId: string, lines = 200): Promise<string> {
    return this.run(['capture-pane', '-p', '-J', '-t', paneId, '-S', `-${lines}`]);
  }

  async killWindow(windowId: string): Promise<void> {
    await this.run(['kill-window', '-t', windowId]).catch(() => undefined);
  }

  async killSession(name: string): Promise<void> {
    await this.run(['kill-session', '-t', `=${name}`]).catch(() => undefined);
  }

  signalProcessGroup(pid: number, signal: 'SIGTERM' | 'SIGKILL' | 'SIGINT'): void {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** Installs tmux where no password is needed (see ensureInstalled), with this process's environment. */
  async install(): Promise<{ installed: boolean; log: string }> {
    const report = await this.ensureInstalled({ env: process.env, autoInstall: true });
    return { installed: report.status !== 'manual_required', log: installLog(report).slice(-4000) };
  }

  /** tmux on env's PATH, installed first when allowed and possible without a password (tmux/install.ts). */
  ensureInstalled(options: { env: Readonly<Record<string, string | undefined>>; autoInstall: boolean }): Promise<TmuxInstallReport> {
    return ensureTmuxInstalled(options.env, options);
  }

  async listWindows(session: string): Promise<string[]> {
    try {
      return (await this.run(['list-windows', '-t', `=${session}`, '-F', '#{window_id}'])).split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }
}
