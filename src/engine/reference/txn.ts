// FROZEN PRE-REDESIGN REFERENCE (copied from src/engine at commit 90da411, before the
// columnar storage redesign). It exists only so that engine.reference.prop.test.ts can check
// that the redesigned engine gives identical results and byte-identical snapshots for the
// same command history. Not exported from index.ts; do not change it except to keep it
// compiling. Its original header follows.
//
// The one transaction mechanism. A transaction is a list of operations on rows; each
// operation names a table and a primary key, may carry conditions, and has one effect
// (insert, update with set and increment, delete, read). Operations run in order, each sees
// the effects of the ones before it, and the whole list applies or nothing does: the first
// failing operation rolls every earlier effect back from the undo log and its index and code
// are returned. Nothing here performs I/O or reads a clock; given the same tables and the
// same list it always produces the same result.
//
// Conditions:  exists | absent            -> the row before this operation's effect
//              compare column op value    -> the row before this operation's effect
//              floor column >= minimum    -> the row after this operation's effect
import { TXN_OPERATIONS_MAX } from "../../constants.ts";
import { assert, unreachable } from "../../stdx/index.ts";
import { ResultCode } from "../results.ts";
import type { Table } from "./table.ts";
import { compareValues, isInInt64Range, type Row, type Value } from "./values.ts";

export type CompareOperator = "eq" | "ne" | "lt" | "le" | "gt" | "ge";

export type Condition =
  | { readonly kind: "exists" }
  | { readonly kind: "absent" }
  | {
      readonly kind: "compare";
      readonly column: string;
      readonly operator: CompareOperator;
      readonly value: Value;
    }
  | { readonly kind: "floor"; readonly column: string; readonly minimum: bigint };

export type Operation =
  | {
      readonly kind: "insert";
      readonly table: string;
      readonly key: string;
      readonly values: Row;
      readonly conditions?: readonly Condition[];
    }
  | {
      readonly kind: "update";
      readonly table: string;
      readonly key: string;
      readonly set?: Row;
      readonly increment?: Readonly<Record<string, bigint>>;
      readonly conditions?: readonly Condition[];
    }
  | {
      readonly kind: "delete";
      readonly table: string;
      readonly key: string;
      readonly conditions?: readonly Condition[];
    }
  | {
      readonly kind: "read";
      readonly table: string;
      readonly key: string;
      readonly conditions?: readonly Condition[];
    };

export type TxnOutcome =
  | { readonly code: typeof ResultCode.OK; readonly rows: readonly (Row | null)[] }
  | { readonly code: ResultCode; readonly operationIndex: number };

/** Resolves a table name for the executor; undefined when the table does not exist. */
export type TableResolver = (name: string) => Table | undefined;

interface UndoEntry {
  readonly table: Table;
  readonly key: string;
  readonly previous: Row | undefined;
}

/**
 * Runs `operations` against the tables. On success every effect is in place and `rows`
 * holds, per operation, the row it read or wrote (null for a delete). On failure nothing
 * changed.
 */
export function executeTxn(resolve: TableResolver, operations: readonly Operation[]): TxnOutcome {
  assert(operations.length <= TXN_OPERATIONS_MAX, "transaction longer than TXN_OPERATIONS_MAX");
  const undo: UndoEntry[] = [];
  const rows: (Row | null)[] = [];
  for (let index = 0; index < operations.length; index++) {
    const operation = operations[index] as Operation;
    const table = resolve(operation.table);
    if (table === undefined) return rollback(undo, ResultCode.TABLE_NOT_FOUND, index);
    const previous = table.get(operation.key);
    const before = checkConditions(operation.conditions, previous, "before");
    if (before !== ResultCode.OK) return rollback(undo, before, index);
    const applied = applyEffect(table, operation, previous, undo);
    if (applied.code !== ResultCode.OK) return rollback(undo, applied.code, index);
    const after = checkConditions(operation.conditions, applied.row ?? undefined, "after");
    if (after !== ResultCode.OK) return rollback(undo, after, index);
    rows.push(applied.row);
  }
  return { code: ResultCode.OK, rows };
}

function rollback(undo: UndoEntry[], code: ResultCode, operationIndex: number): TxnOutcome {
  assert(code !== ResultCode.OK, "rollback needs a failure code");
  for (let index = undo.length - 1; index >= 0; index--) {
    const entry = undo[index] as UndoEntry;
    if (entry.previous === undefined) entry.table.remove(entry.key);
    else entry.table.put(entry.key, entry.previous);
  }
  return { code, operationIndex };
}

interface Applied {
  readonly code: ResultCode;
  readonly row: Row | null;
}

function applyEffect(
  table: Table,
  operation: Operation,
  previous: Row | undefined,
  undo: UndoEntry[],
): Applied {
  switch (operation.kind) {
    case "read":
      if (previous === undefined) return { code: ResultCode.OK, row: null };
      return { code: ResultCode.OK, row: previous };
    case "insert": {
      if (previous !== undefined) return { code: ResultCode.ROW_EXISTS, row: null };
      undo.push({ table, key: operation.key, previous });
      table.write(operation.key, undefined, operation.values);
      return { code: ResultCode.OK, row: operation.values };
    }
    case "update": {
      if (previous === undefined) return { code: ResultCode.ROW_NOT_FOUND, row: null };
      const next = updatedRow(previous, operation.set, operation.increment);
      if (typeof next === "number") return { code: next, row: null };
      undo.push({ table, key: operation.key, previous });
      table.write(operation.key, previous, next);
      return { code: ResultCode.OK, row: next };
    }
    case "delete": {
      if (previous === undefined) return { code: ResultCode.ROW_NOT_FOUND, row: null };
      undo.push({ table, key: operation.key, previous });
      table.remove(operation.key);
      return { code: ResultCode.OK, row: null };
    }
    default:
      return unreachable(operation);
  }
}

/** The row after `set` and then `increment`; a result code when an increment cannot apply. */
function updatedRow(
  previous: Row,
  set: Row | undefined,
  increment: Readonly<Record<string, bigint>> | undefined,
): Row | ResultCode {
  const next: Record<string, Value> = { ...previous, ...set };
  if (increment !== undefined) {
    for (const column in increment) {
      const current = next[column] ?? 0n;
      if (typeof current !== "bigint") return ResultCode.NOT_A_NUMBER;
      const value = current + (increment[column] as bigint);
      if (!isInInt64Range(value)) return ResultCode.OVERFLOW;
      next[column] = value;
    }
  }
  return next;
}

function checkConditions(
  conditions: readonly Condition[] | undefined,
  row: Row | undefined,
  phase: "before" | "after",
): ResultCode {
  if (conditions === undefined) return ResultCode.OK;
  for (const condition of conditions) {
    const isAfter = condition.kind === "floor";
    if (isAfter !== (phase === "after")) continue;
    if (!conditionHolds(condition, row)) {
      return condition.kind === "floor" ? ResultCode.FLOOR_VIOLATED : ResultCode.CONDITION_FAILED;
    }
  }
  return ResultCode.OK;
}

function conditionHolds(condition: Condition, row: Row | undefined): boolean {
  switch (condition.kind) {
    case "exists":
      return row !== undefined;
    case "absent":
      return row === undefined;
    case "compare": {
      if (row === undefined) return false;
      const order = compareValues(row[condition.column] ?? null, condition.value);
      return compareHolds(condition.operator, order);
    }
    case "floor": {
      // A deleted row has no balance left to violate a floor.
      if (row === undefined) return true;
      const value = row[condition.column] ?? 0n;
      return typeof value === "bigint" && value >= condition.minimum;
    }
    default:
      return unreachable(condition);
  }
}

function compareHolds(operator: CompareOperator, order: number): boolean {
  switch (operator) {
    case "eq":
      return order === 0;
    case "ne":
      return order !== 0;
    case "lt":
      return order < 0;
    case "le":
      return order <= 0;
    case "gt":
      return order > 0;
    case "ge":
      return order >= 0;
    default:
      return unreachable(operator);
  }
}
