import { printableJson } from '../core/control-chars.js';
import type { Dispatcher } from '../registry/dispatch.js';
import { inSeconds, table } from './table.js';

interface Item {
  [key: string]: unknown;
}

const ago = (ms: number, now: number) => `${Math.max(0, Math.round((now - ms) / 1000))}s ago`;

/** `codestrator status`: sessions, cases in progress and live locks; --json gives the same data. */
export async function renderStatus(dispatcher: Dispatcher, json: boolean): Promise<number> {
  const calls = await Promise.all([
    dispatcher.call('session.list', {}),
    dispatcher.call('task.list', { level: 'case', status: 'in_progress' }),
    dispatcher.call('lock.list', {}),
  ]);
  const failed = calls.find((call) => !call.ok);
  if (failed && !failed.ok) {
    process.stderr.write(`${JSON.stringify(failed.error, null, 2)}\n`);
    return 1;
  }
  const [sessions, cases, locks] = calls.map((call) => (call.ok ? (call.result.items as Item[]) : []));
  if (json) {
    process.stdout.write(`${printableJson({ sessions, cases_in_progress: cases, locks }, 2)}\n`);
    return 0;
  }
  const now = Date.now();
  const out: string[] = [];
  out.push(`Sessions (${sessions!.length} open)`);
  if (sessions!.length > 0) {
    out.push(
      table(
        ['ID', 'STATUS', 'LIVE', 'LAST SEEN', 'REQUEST'],
        sessions!.map((s) => [
          String(s.id),
          String(s.status),
          s.live ? 'yes' : 'no',
          ago(Number(s.last_seen_at), now),
          String(s.user_request ?? ''),
        ]),
      ),
    );
  }
  out.push(`Cases in progress (${cases!.length})`);
  if (cases!.length > 0)
    out.push(
      table(
        ['ID', 'OWNER', 'TITLE'],
        cases!.map((c) => [String(c.id), String(c.owner_key), String(c.title)]),
      ),
    );
  out.push(`Locks (${locks!.length} live)`);
  if (locks!.length > 0) {
    out.push(
      table(
        ['ID', 'SCOPE', 'OWNER', 'EXPIRES'],
        locks!.map((l) => [String(l.id), `${l.scope_type} ${l.scope_path}`, String(l.owner_key), inSeconds(Number(l.lease_until), now)]),
      ),
    );
  }
  process.stdout.write(out.join('\n') + (out[out.length - 1]!.endsWith('\n') ? '' : '\n'));
  return 0;
}
