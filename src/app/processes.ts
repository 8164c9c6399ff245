import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ProcessPort } from '../core/ports.js';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot) and field 3 (state); null when there is no such process. */
function procStat(pid: number): { start: string; state: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, start: fields[19]! };
  } catch {
    return null;
  }
}

function machineId(): string {
  for (const path of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(path, 'utf8').trim();
      if (id) return id;
    } catch {
      // Try the next one.
    }
  }
  return hostname().replace(/\//g, '_');
}

/** Without /proc (macOS), a pid is checked with signal 0 and its start time is unknown ("?"). */
function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process port of this machine (Linux /proc, with a pid-only fallback elsewhere). */
export function nodeProcesses(env: NodeJS.ProcessEnv): ProcessPort {
  const machine = machineId();
  const keyOf = (pid: number): string | null => {
    const stat = procStat(pid);
    if (stat) return stat.state === 'Z' ? null : `${machine}/${pid}/${stat.start}`;
    return pidRuns(pid) ? `${machine}/${pid}/?` : null;
  };
  return {
    self: keyOf(process.pid) ?? `${machine}/${process.pid}/?`,
    keyOf,
    isRunning(key) {
      const [keyMachine, rawPid, start] = key.split('/');
      if (keyMachine !== machine) return null;
      const pid = Number(rawPid);
      if (!Number.isInteger(pid) || pid <= 0) return false;
      const now = keyOf(pid);
      return now !== null && (start === '?' || now === key);
    },
    stopGroup(pid) {
      // An orphaned gate's verdict is no longer wanted (its item is checked again), and this process
      // may exit before a grace period ends: SIGKILL at once.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
    // CODESTRATOR_FAULT: comma-separated points at which the process kills itself (crash tests).
    checkpoint(point) {
      if (env.CODESTRATOR_FAULT?.split(',').some((name) => name.trim() === point)) process.kill(process.pid, 'SIGKILL');
    },
  };
}
