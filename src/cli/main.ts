#!/usr/bin/env node
// The CLI entry: the only file that sets the process exit code.
const argv = process.argv.slice(2);

async function main(): Promise<number> {
  // Fast path: agents start `codestrator mcp` and must get initialize answered quickly.
  if (argv[0] === 'mcp' && argv.length === 1) {
    const { serveStdio } = await import('../mcp/stdio.js');
    await serveStdio(process.cwd(), process.env);
    return 0;
  }
  const { buildProgram } = await import('./program.js');
  return buildProgram().run(argv);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`codestrator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
