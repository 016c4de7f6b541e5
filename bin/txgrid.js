#!/usr/bin/env node
// Entry point of the txgrid command. The TypeScript sources are compiled to dist/ by
// `npm run build` (npm start and npm test do it first); this file only loads the result.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const mainUrl = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(mainUrl))) {
  process.stderr.write("txgrid: dist/ is missing; run `npm run build` first\n");
  process.exit(1);
}
const { main } = await import(mainUrl.href);
process.exitCode = await main(process.argv.slice(2));
