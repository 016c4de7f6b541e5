// `node dist/src/sim/main.js [--seeds N] [--seed S] [--mode durable|received] [--replicas N]
// [--legacy]` (the last replays seeds kept before etcd outages and etcd's lessor were modelled):
// runs simulator seeds (S, S+1, ... for --seeds N; default S = 1, N = 20), prints one line
// per failing seed with the command that replays it, and exits 1 if any failed.
import { runSeed } from "./cluster.ts";

function flag(argv: readonly string[], name: string): string | undefined {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
}

export async function simMain(argv: readonly string[]): Promise<number> {
  const seedFirst = Number(flag(argv, "--seed") ?? 1);
  const seedCount = Number(flag(argv, "--seeds") ?? (flag(argv, "--seed") === undefined ? 20 : 1));
  const mode = flag(argv, "--mode") === "received" ? "received" : "durable";
  const replicaCount = Number(flag(argv, "--replicas") ?? 3);
  const legacy = argv.includes("--legacy");
  let failed = 0;
  let acknowledged = 0;
  for (let seed = seedFirst; seed < seedFirst + seedCount; seed++) {
    const trace = argv.includes("--trace")
      ? (line: string) => process.stdout.write(`${line}\n`)
      : undefined;
    const report = await runSeed({
      seed,
      mode,
      replicaCount,
      legacy,
      ...(trace === undefined ? {} : { trace }),
    });
    acknowledged += report.acknowledged;
    if (!report.ok) {
      failed++;
      process.stdout.write(
        `FAIL seed ${seed}: ${report.violation}\n  replay: node dist/src/sim/main.js --seed ${seed}` +
          ` --mode ${mode} --replicas ${replicaCount}${legacy ? " --legacy" : ""}\n`,
      );
    }
  }
  process.stdout.write(
    `sim: ${seedCount} seeds, ${failed} failed, ${acknowledged} acknowledged writes checked\n`,
  );
  return failed === 0 ? 0 : 1;
}

if (process.argv[1]?.endsWith("sim/main.js") === true) {
  simMain(process.argv.slice(2)).then((code) => process.exit(code));
}
