// Argument parsing shared by the txgrid commands: node:util parseArgs (strict: an unknown
// flag is an error), plus checked conversions so that a bad value is reported by name with
// exit code 2 instead of turning into NaN somewhere later.
import { parseArgs } from "node:util";
import { ErrorCode, TxgridError } from "../stdx/index.ts";

export type FlagSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; default?: string | boolean }
>;

export function parseFlags(argv: readonly string[], flags: FlagSpec) {
  try {
    return parseArgs({ args: [...argv], options: flags, strict: true, allowPositionals: false })
      .values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, (error as Error).message, { cause: error });
  }
}

/** An integer flag within [min, max]. */
export function integerFlag(
  values: Record<string, string | boolean | undefined>,
  name: string,
  min: number,
  max: number,
): number {
  const raw = values[name];
  const value = typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new TxgridError(
      ErrorCode.BAD_REQUEST,
      `--${name} must be an integer from ${min} to ${max} (got ${String(raw)})`,
    );
  }
  return value;
}

/** A string flag that must be one of `choices`. */
export function choiceFlag<T extends string>(
  values: Record<string, string | boolean | undefined>,
  name: string,
  choices: readonly T[],
): T {
  const raw = values[name];
  if (typeof raw !== "string" || !(choices as readonly string[]).includes(raw)) {
    throw new TxgridError(
      ErrorCode.BAD_REQUEST,
      `--${name} must be one of ${choices.join(", ")} (got ${String(raw)})`,
    );
  }
  return raw as T;
}

export function stringFlag(values: Record<string, string | boolean | undefined>, name: string) {
  const raw = values[name];
  return typeof raw === "string" ? raw : undefined;
}
