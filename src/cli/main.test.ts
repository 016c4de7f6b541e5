// Goal: the command line rejects bad usage with exit code 2 and a message that names the
// problem, and answers help and version. Method: call main() in-process with stdout and
// stderr captured (real servers are exercised by the process tests in test/integration).
import assert from "node:assert/strict";
import { test } from "node:test";
import { main } from "./main.ts";

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const writes = { out: "", err: "" };
  const originalOut = process.stdout.write.bind(process.stdout);
  const originalErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => {
    writes.out += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    writes.err += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, ...writes };
  } finally {
    process.stdout.write = originalOut;
    process.stderr.write = originalErr;
  }
}

test("no command prints usage with exit 2; help and version exit 0", async () => {
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.out, /usage: txgrid <command>/);
  const help = await run(["help", "bench"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /--transactions N/);
  const serveHelp = await run(["serve", "--help"]);
  assert.match(serveHelp.out, /--fsync POLICY/);
  const version = await run(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.out, /^txgrid \d+\.\d+\.\d+\n$/);
});

test("bad usage exits 2 and names the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /unknown command "frobnicate"/],
    [["bench", "-c", "0"], /--concurrency must be an integer from 1/],
    [["bench", "-t", "1.5"], /--transactions must be an integer/],
    [["bench", "--api", "soap"], /--api must be one of timpe, v1/],
    [["bench", "--hot", "101"], /--hot must be an integer from 0 to 100/],
    [["bench", "--no-such-flag"], /Unknown option '--no-such-flag'/],
    [["serve", "--fsync", "sometimes"], /--fsync must be one of always, batch, lazy/],
    [["serve", "--port", "70000"], /--port must be an integer from 0 to 65535/],
    [["serve", "--busy-poll-us", "10001"], /--busy-poll-us must be an integer from 0 to 10000/],
    [["serve", "--busy-poll-us=-1"], /--busy-poll-us must be an integer from 0 to 10000/],
    [["bench", "--busy-poll-us", "x"], /--busy-poll-us must be an integer from 0 to 10000/],
    [["bench", "--warmup", "1e3"], /--warmup must be an integer from 0 to 10000000/],
    [["serve", "--http-front", "maybe"], /--http-front must be one of on, off/],
    [["bench", "--http-front", "no"], /--http-front must be one of on, off/],
  ];
  for (const [argv, message] of cases) {
    const result = await run(argv);
    assert.equal(result.code, 2, `${argv.join(" ")} exits 2`);
    assert.match(result.err, message);
  }
  const verify = await run(["verify"]);
  assert.equal(verify.code, 2);
  assert.match(verify.err, /usage: txgrid verify/);
});
