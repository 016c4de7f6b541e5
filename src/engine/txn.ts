// The one transaction mechanism. A transaction is a list of operations on rows; each
// operation names a table and a primary key, may carry conditions, and has one effect
// (insert, update with set and increment, delete, read). Operations run in order, each sees
// the effects of the ones before it, and the whole list applies or nothing does: the first
// failing operation rolls every earlier effect back from the undo log and its index and code
// are returned. Nothing here performs I/O or reads a clock; given the same tables and the
// same list it always produces the same result.
//
// The executor works on the Table contract (table.ts), so the same code runs users' generic
// transactions on object tables and the ledger's transfers on the column tables. It keeps no
// reference to an operation, its conditions, set or increment once execute() returns (an
// insert's `values` may become the stored row of an object table), so the ledger can reuse
// the same operation objects for every transfer instead of allocating them.
//
// Conditions:  exists | absent            -> the row before this operation's effect
//              compare column op value    -> the row before this operation's effect
//              floor column >= minimum    -> the row after this operation's effect
import { TXN_OPERATIONS_MAX } from "../constants.ts";
import { assert, unreachable } from "../stdx/index.ts";
import { ResultCode } from "./results.ts";
import { type Table, UndoLog } from "./table.ts";
import { compareValues, type Row, type Value } from "./values.ts";

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

// Module-local copies: V8 reads an imported binding through a cell at every use.
const { OK, TABLE_NOT_FOUND, ROW_EXISTS, ROW_NOT_FOUND, FLOOR_VIOLATED, CONDITION_FAILED } =
  ResultCode;

/** Resolves a table name for the executor; undefined when the table does not exist. */
export type TableResolver = (name: string) => Table | undefined;

export class TxnExecutor {
  readonly #resolve: TableResolver;
  readonly #undo = new UndoLog();
  #failedIndex = -1;
  #effectCode: ResultCode = OK;

  constructor(resolve: TableResolver) {
    this.#resolve = resolve;
  }

  /** After execute() failed: the index of the operation that failed. */
  get failedIndex(): number {
    return this.#failedIndex;
  }

  /**
   * Runs `operations`. On OK every effect is in place and, when `rows` is given, it received
   * per operation the row it read or wrote (null for a delete or a missing row). On failure
   * nothing changed and failedIndex names the operation.
   */
  execute(operations: readonly Operation[], rows: (Row | null)[] | null): ResultCode {
    assert(operations.length <= TXN_OPERATIONS_MAX, "transaction longer than TXN_OPERATIONS_MAX");
    assert(this.#undo.length === 0, "transactions do not nest");
    for (let index = 0; index < operations.length; index++) {
      const code = this.#step(operations[index] as Operation, rows);
      if (code !== OK) {
        this.#undo.rollback();
        this.#failedIndex = index;
        return code;
      }
    }
    this.#undo.clear();
    this.#failedIndex = -1;
    return OK;
  }

  #step(operation: Operation, rows: (Row | null)[] | null): ResultCode {
    const table = this.#resolve(operation.table);
    if (table === undefined) return TABLE_NOT_FOUND;
    const slot = table.find(operation.key);
    const conditions = operation.conditions;
    if (conditions !== undefined) {
      const before = checkConditions(conditions, table, slot, false);
      if (before !== OK) return before;
    }
    const slotAfter = this.#applyEffect(table, operation, slot);
    if (slotAfter === effectFailed) return this.#effectCode;
    if (conditions !== undefined) {
      const after = checkConditions(conditions, table, slotAfter, true);
      if (after !== OK) return after;
    }
    if (rows !== null) rows.push(slotAfter === noRow ? null : table.rowAt(slotAfter));
    return OK;
  }

  /** The slot of the row after the effect, noRow for none, or effectFailed (#effectCode). */
  #applyEffect(table: Table, operation: Operation, slot: number): number {
    switch (operation.kind) {
      case "read":
        return slot;
      case "insert":
        if (slot !== noRow) return this.#fail(ROW_EXISTS);
        return table.insert(operation.key, operation.values, this.#undo);
      case "update": {
        if (slot === noRow) return this.#fail(ROW_NOT_FOUND);
        const code = table.update(slot, operation.set, operation.increment, this.#undo);
        return code === OK ? slot : this.#fail(code);
      }
      case "delete":
        if (slot === noRow) return this.#fail(ROW_NOT_FOUND);
        table.remove(slot, this.#undo);
        return noRow;
      default:
        return unreachable(operation);
    }
  }

  #fail(code: ResultCode): number {
    this.#effectCode = code;
    return effectFailed;
  }
}

/** The slot that stands for "no row". */
const noRow = -1;
const effectFailed = -2;

function checkConditions(
  conditions: readonly Condition[],
  table: Table,
  slot: number,
  isAfterPhase: boolean,
): ResultCode {
  for (let index = 0; index < conditions.length; index++) {
    const condition = conditions[index] as Condition;
    const isAfter = condition.kind === "floor";
    if (isAfter !== isAfterPhase) continue;
    if (!conditionHolds(condition, table, slot)) {
      return isAfter ? FLOOR_VIOLATED : CONDITION_FAILED;
    }
  }
  return OK;
}

function conditionHolds(condition: Condition, table: Table, slot: number): boolean {
  switch (condition.kind) {
    case "exists":
      return slot !== noRow;
    case "absent":
      return slot === noRow;
    case "compare": {
      if (slot === noRow) return false;
      const order = compareValues(table.valueAt(slot, condition.column), condition.value);
      return compareHolds(condition.operator, order);
    }
    case "floor": {
      // A deleted row has no balance left to violate a floor.
      if (slot === noRow) return true;
      const value = table.valueAt(slot, condition.column) ?? 0n;
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
