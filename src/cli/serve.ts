import type { Command } from 'commander';
import { CodestratorError, invalid } from '../core/errors.js';

/** Parses --port: digits only, 0..65535 (0 = a free port). */
function parsePort(raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (!/^[0-9]{1,5}$/.test(raw) || Number(raw) > 65_535)
    throw invalid(`--port must be a number from 0 to 65535, not ${JSON.stringify(raw)}.`, 'port', 'Omit --port for a free port.');
  return Number(raw);
}

/** Resolves on the first SIGINT or SIGTERM, and removes both handlers. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** `codestrator serve [--port N] [--json]`: the live dashboard on 127.0.0.1 until SIGINT/SIGTERM. */
export function registerServe(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('serve')
    .description('Serve the live web dashboard on 127.0.0.1; prints its URL (with the access token) and runs until Ctrl-C')
    .option('--port <n>', 'port to listen on (default: a free one)')
    .option('--json', 'print {url, token, port} as one JSON line')
    .action(async (options: { port?: string; json?: boolean }) => {
      const { startDashboard } = await import('../http/server.js');
      let dashboard: Awaited<ReturnType<typeof startDashboard>>;
      try {
        dashboard = await startDashboard({ cwd: process.cwd(), env: process.env, port: parsePort(options.port) });
      } catch (err) {
        if (!(err instanceof CodestratorError)) throw err;
        process.stderr.write(`${JSON.stringify(err.toWire(), null, 2)}\n`);
        setExitCode(1);
        return;
      }
      // Installed before printing: whoever reads the URL may signal at once.
      const signalled = untilSignal();
      const { url, token, port } = dashboard;
      process.stdout.write(
        options.json
          ? `${JSON.stringify({ url, token, port })}\n`
          : `codestrator dashboard: ${url}\nOpen it in a browser; Ctrl-C stops it.\n`,
      );
      await signalled;
      await dashboard.close();
      setExitCode(0);
    });
}
