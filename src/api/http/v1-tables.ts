// /v1 tables (CloudTPS's model): user tables with secondary indexes, multi-row generic
// transactions (all or nothing), reads by primary key and lookups by an indexed column.
//
// Values on the wire: strings, booleans and null as themselves; integers (signed 64-bit) as
// {"int":"<decimal>"} in answers and as {"int":"<decimal>"} or a safe JSON integer in
// requests. A transaction may read the ledger's own tables (accounts, transfers, ...) but
// writing them is refused with 403 TABLE_RESERVED, so money rules cannot be bypassed.
import { Type } from "typebox";
import {
  type CommandResult,
  type Condition,
  type Operation,
  ResultCode,
  type Row,
  type Value,
} from "../../engine/index.ts";
import type { Shard } from "../../shard/index.ts";
import type { HttpApp } from "./app.ts";
import { badRequest, inItem, notFound, refusal } from "./errors.ts";
import { parseSigned, parseValue } from "./input.ts";
import { liveEngine } from "./live-engine.ts";
import {
  LIST_PAGE_ROWS_DEFAULT,
  LookupQuery,
  NullableRowOutput,
  type OperationInput,
  RowOutput,
  success,
  TableBody,
  TableParams,
  TableRowParams,
  TxnBody,
} from "./schemas.ts";
import { rowView } from "./views.ts";

const tags = ["v1 tables"];

export function registerTableRoutes(app: HttpApp, shard: Shard): void {
  registerTableWrites(app, shard);
  registerTableReads(app, shard);
}

function registerTableWrites(app: HttpApp, shard: Shard): void {
  app.post(
    "/v1/tables",
    {
      schema: {
        tags,
        summary: "Create a table with secondary indexes on some columns",
        body: TableBody,
        response: {
          201: success(Type.Object({ name: Type.String(), indexes: Type.Array(Type.String()) })),
        },
      },
    },
    async (request, reply) => {
      const { name, indexes = [] } = request.body;
      const result = await shard.submit({ kind: "table.create", name, indexes });
      if (result.code !== ResultCode.OK) throw refusal(result.code);
      reply.code(201);
      return { status: "success" as const, data: { name, indexes } };
    },
  );
  app.post(
    "/v1/txn",
    {
      schema: {
        tags,
        summary: "Run a generic transaction: every operation applies or none does",
        body: TxnBody,
        response: { 200: success(Type.Object({ rows: Type.Array(NullableRowOutput) })) },
      },
    },
    async (request) => {
      const operations = request.body.operations.map((input, index) =>
        inItem("operations", index, () => operationOf(input)),
      );
      return txnReply(await shard.submit({ kind: "txn", operations }));
    },
  );
}

function txnReply(result: CommandResult) {
  const code = result.code;
  if (code !== ResultCode.OK) {
    const operationIndex = result.operationIndex ?? null;
    throw refusal(code, { operationIndex });
  }
  const rows = (result.rows ?? []).map((row) => (row === null ? null : rowView(row)));
  return { status: "success" as const, data: { rows } };
}

function operationOf(input: OperationInput): Operation {
  const common = {
    table: input.table,
    key: input.key,
    conditions: (input.conditions ?? []).map(conditionOf),
  };
  switch (input.kind) {
    case "insert":
      return { kind: "insert", ...common, values: rowOf(input.values) };
    case "update":
      return {
        kind: "update",
        ...common,
        set: rowOf(input.set ?? {}),
        increment: incrementOf(input.increment ?? {}),
      };
    case "delete":
      return { kind: "delete", ...common };
    default:
      return { kind: "read", ...common };
  }
}

type ConditionInput = NonNullable<OperationInput["conditions"]>[number];

function conditionOf(input: ConditionInput): Condition {
  switch (input.kind) {
    case "compare":
      return {
        kind: "compare",
        column: input.column,
        operator: input.operator as Extract<Condition, { kind: "compare" }>["operator"],
        value: parseValue(input.value, input.column),
      };
    case "floor":
      return {
        kind: "floor",
        column: input.column,
        minimum: parseSigned(input.minimum, "minimum"),
      };
    default:
      return { kind: input.kind };
  }
}

function rowOf(values: Readonly<Record<string, unknown>>): Row {
  const row: Record<string, Value> = {};
  for (const column of Object.keys(values)) row[column] = parseValue(values[column], column);
  return row;
}

function incrementOf(values: Readonly<Record<string, string | number>>): Record<string, bigint> {
  const increment: Record<string, bigint> = {};
  for (const column of Object.keys(values)) {
    increment[column] = parseSigned(values[column] as string | number, column);
  }
  return increment;
}

function registerTableReads(app: HttpApp, shard: Shard): void {
  const engine = liveEngine(shard);
  app.get(
    "/v1/tables/:name/rows/:key",
    {
      schema: {
        tags,
        summary: "One row by primary key (the ledger's tables can be read too)",
        params: TableRowParams,
        response: { 200: success(Type.Object({ row: RowOutput })) },
      },
    },
    (request) => {
      const { name, key } = request.params;
      const row = engine.row(name, key);
      if (row === undefined) throw notFound(`no row '${key}' in table '${name}'`);
      return { status: "success" as const, data: { row: rowView(row) } };
    },
  );
  app.get(
    "/v1/tables/:name/lookup",
    {
      schema: {
        tags,
        summary: "Rows whose indexed column equals a value (type: string | int | bool)",
        params: TableParams,
        querystring: LookupQuery,
        response: { 200: success(Type.Object({ rows: Type.Array(RowOutput) })) },
      },
    },
    (request) => {
      const { column, value, type = "string", limit = LIST_PAGE_ROWS_DEFAULT } = request.query;
      const rows = engine.lookup(request.params.name, column, lookupValue(value, type), limit);
      if (rows === null) {
        throw notFound(`no table '${request.params.name}' with an index on '${column}'`);
      }
      return { status: "success" as const, data: { rows: rows.map(rowView) } };
    },
  );
}

function lookupValue(value: string, type: "string" | "int" | "bool"): Value {
  if (type === "string") return value;
  if (type === "bool") {
    if (value !== "true" && value !== "false") throw badRequest("'value' must be true or false");
    return value === "true";
  }
  if (!/^-?[0-9]{1,20}$/.test(value)) throw badRequest("'value' must be a decimal integer");
  return parseSigned(value, "value");
}
