import { readFileSync, realpathSync } from 'node:fs';
import type { CallerOrigin } from '../core/context.js';

/**
 * Where the agent this MCP server serves runs: its working directory, its terminal and this
 * server process. A restarted agent (a new client and server) is found again by these.
 */
export function callerOrigin(cwd: string, env: NodeJS.ProcessEnv): CallerOrigin {
  return {
    cwd: realPath(cwd),
    terminal: terminalOf(env, process.ppid),
    process: processId(process.pid) ?? `${process.pid}`,
    isRunning,
  };
}

const realPath = (path: string): string => {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
};

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** `pid:starttime`: a pid alone is reused, the pair names one process (Linux); elsewhere the pid. */
function processId(pid: number): string | undefined {
  const stat = procStat(pid);
  // Field 22 (starttime) is index 19 after the name; field 3 (state) is index 0.
  return stat ? `${pid}:${stat[19]}` : undefined;
}

function isRunning(id: string): boolean {
  const [rawPid, start] = id.split(':');
  const pid = Number(rawPid);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (start !== undefined) {
    const stat = procStat(pid);
    if (stat) return stat[19] === start && stat[0] !== 'Z';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Terminal ids some terminals and multiplexers give the processes in them. */
const TERMINAL_ENV = ['TERM_SESSION_ID', 'ITERM_SESSION_ID', 'WT_SESSION', 'KITTY_WINDOW_ID', 'WEZTERM_PANE', 'ZELLIJ_PANE_ID'];

/**
 * A stable name of the terminal the client runs in: the tmux pane or a terminal's session id when
 * the client passes its environment on, else the controlling tty of the nearest ancestor that has
 * one (clients such as Codex pass MCP servers a filtered environment).
 */
export function terminalOf(env: NodeJS.ProcessEnv, ppid: number): string | null {
  if (env.TMUX_PANE) return `tmux:${(env.TMUX ?? '').split(',')[0]}:${env.TMUX_PANE}`;
  for (const name of TERMINAL_ENV) if (env[name]) return `${name}:${env[name]}`;
  let pid = ppid;
  for (let depth = 0; depth < 6 && pid > 1; depth += 1) {
    const stat = procStat(pid);
    if (!stat) return null;
    const ttyNr = Number(stat[4]);
    if (ttyNr > 0) return `tty:${ttyName(ttyNr)}`;
    pid = Number(stat[1]);
  }
  return null;
}

/** The device of a tty_nr: pseudo-terminals (majors 136–143) by their /dev/pts number. */
function ttyName(ttyNr: number): string {
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  return major >= 136 && major <= 143 ? `/dev/pts/${(major - 136) * 256 + minor}` : `${major}:${minor}`;
}
