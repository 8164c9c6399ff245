import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registry } from '../src/app/services.js';
import { TOOL_MANIFEST, buildTools } from '../src/mcp/tools.js';

describe('MCP start-up', () => {
  it('the tool manifest written by the build is the tool list generated from the registry', () => {
    // The build writes it into dist/ (the URL resolved from src/ names the same file name there).
    const built = new URL(TOOL_MANIFEST.href.replace('/src/mcp/', '/dist/mcp/'));
    expect(JSON.parse(readFileSync(built, 'utf8'))).toEqual(JSON.parse(JSON.stringify(buildTools(registry))));
  });
});
