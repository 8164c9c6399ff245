import { execFile } from 'node:child_process';
import { type TmuxOptions, runTmux } from './run-tmux.js';

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

const FORMAT = '#{pane_id}\t#{window_id}\t#{session_name}\t#{pane_pid}\t#{pane_dead}\t#{pane_dead_status}';

function parsePanes(text: string): PaneInfo[] {
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

  /** Only as root with apt-get: no sudo, no prompt (DEBIAN_FRONTEND=noninteractive, -y). */
  async install(): Promise<{ installed: boolean; log: string }> {
    if (process.getuid?.() !== 0) return { installed: false, log: 'not root: codestrator never runs sudo' };
    const run = (args: string[]) =>
      new Promise<string>((resolve) => {
        execFile(
          'apt-get',
          args,
          { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 300_000 },
          (error, stdout, stderr) => resolve(`${stdout}${stderr}${error ? `\nexit: ${error.message}` : ''}`),
        );
      });
    const log = (await run(['update', '-q'])) + (await run(['install', '-y', '-q', 'tmux']));
    return { installed: (await this.version()) !== null, log: log.slice(-4000) };
  }

  async listWindows(session: string): Promise<string[]> {
    try {
      return (await this.run(['list-windows', '-t', `=${session}`, '-F', '#{window_id}'])).split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }
}
