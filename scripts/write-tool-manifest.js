// Run by `npm run build` after tsc: writes dist/mcp/tools.json, the MCP tool list generated from the
// method registry, so `codestrator mcp` answers tools/list without loading the method table.
import { writeFileSync } from 'node:fs';
import { registry } from '../dist/app/services.js';
import { TOOL_MANIFEST, buildTools } from '../dist/mcp/tools.js';

writeFileSync(TOOL_MANIFEST, `${JSON.stringify(buildTools(registry))}\n`);
