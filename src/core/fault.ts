/**
 * Fault injection for crash tests: CODESTRATOR_FAULT names points (comma-separated) at which the
 * process kills itself with SIGKILL, as a crash or `kill -9` would, with no cleanup at all.
 */
export function faultPoint(name: string): void {
  const wanted = process.env.CODESTRATOR_FAULT;
  if (!wanted) return;
  if (wanted.split(',').some((point) => point.trim() === name)) process.kill(process.pid, 'SIGKILL');
}
