// Request and response schemas of the REST API, built once when the module loads (typebox
// JSON Schemas). Fastify compiles each into a validator (typebox's compiler) and each response
// schema into a serializer (fast-json-stringify) once, at startup; nothing is built per request.
// The same schemas produce the OpenAPI document at GET /docs.
//
// Request bodies are strict: unknown fields are refused (additionalProperties: false) and no
// type is coerced (the string "400" is not the number 400). Money on /v1 is a decimal string
// or a safe JSON integer in requests and always a decimal string in responses; the TiMPE
// routes use JSON numbers (integers in minor units) like TiMPE did.
import { type Static, type TSchema, Type } from "typebox";
import {
  ID_BYTES_MAX,
  LIST_PAGE_ROWS_MAX,
  NICKNAME_LENGTH_MAX,
  PENDING_TIMEOUT_MS_MAX,
  REQUEST_TRANSFERS_MAX,
  ROW_COLUMNS_MAX,
  TEXT_BYTES_MAX,
  TXN_OPERATIONS_MAX,
} from "../../constants.ts";

/** Rows a list answers when the request names no limit. */
export const LIST_PAGE_ROWS_DEFAULT = 100;

const strict = { additionalProperties: false } as const;

export const Id = Type.String({
  pattern: `^[A-Za-z0-9._:-]{1,${ID_BYTES_MAX}}$`,
  description: `1..${ID_BYTES_MAX} characters of [A-Za-z0-9._:-]`,
});

/** A signed 64-bit integer: a decimal string, or a JSON number that is a safe integer. */
export const MoneyInput = Type.Union([Type.String({ pattern: "^-?[0-9]{1,20}$" }), Type.Number()], {
  description: "decimal string (exact, up to 2^63-1) or a JSON integer up to 2^53-1",
});

const Nickname = Type.String({ minLength: 1, maxLength: NICKNAME_LENGTH_MAX, pattern: "\\S" });
const TableName = Type.String({ pattern: "^[a-z][a-z0-9_]{0,62}$" });
const ColumnName = Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]{0,62}$" });

// Response field types. Integers that are bigints inside are serialized exactly by
// fast-json-stringify (a bigint becomes its decimal digits, never a float).
const Integer = Type.Unsafe<number | bigint>({ type: "integer" });
const NullableInteger = Type.Unsafe<number | null>({ type: ["integer", "null"] });
const NullableString = Type.Unsafe<string | null>({ type: ["string", "null"] });
const Decimal = Type.String({ description: "signed 64-bit integer as a decimal string" });
const NullableDecimal = Type.Unsafe<string | null>({
  type: ["string", "null"],
  description: "decimal string, or null for none",
});

export function success<T extends TSchema>(data: T) {
  return Type.Object({
    status: Type.Literal("success"),
    duplicate: Type.Optional(Type.Boolean()),
    data,
  });
}

export function failed<T extends TSchema>(data: T) {
  return Type.Object({
    status: Type.Literal("failed"),
    code: Type.String(),
    msg: Type.String(),
    duplicate: Type.Optional(Type.Boolean()),
    data: Type.Optional(data),
  });
}

export const Failed = Type.Object({
  status: Type.Literal("failed"),
  code: Type.String(),
  msg: Type.String(),
});

// ---- TiMPE ----

export const TimpeRegisterBody = Type.Object(
  { nickname: Nickname, balance: Type.Optional(Type.Number()) },
  strict,
);

export const TimpeTransferBody = Type.Object(
  {
    sender: Type.String({ maxLength: ID_BYTES_MAX }),
    recipient: Type.String({ maxLength: ID_BYTES_MAX }),
    amount: Type.Number({ description: "integer in minor units, 1..2^53-1" }),
    id: Type.Optional(Id),
  },
  strict,
);

export const TimpeUser = Type.Object({
  id: Type.String(),
  nickname: NullableString,
  balance: Integer,
});

export const TimpeTransaction = Type.Object({
  id: Type.String(),
  sender: Type.String(),
  recipient: Type.String(),
  amount: Integer,
  timestamp: Integer,
  state: Type.String(),
});

export const TimpeProcessReply = Type.Object({
  status: Type.Union([Type.Literal("success"), Type.Literal("failed")]),
  msg: Type.String(),
  failed_transactions: Type.Array(
    Type.Object({
      transaction: Type.Object({
        id: Type.String(),
        sender: Type.String(),
        recipient: Type.String(),
        amount: Integer,
        state: Type.String(),
      }),
      code: Type.String(),
      reason: Type.String(),
    }),
  ),
  data: Type.Object({ processedCount: Type.Integer() }),
});

// ---- /v1 ledger ----

export const AccountBody = Type.Object(
  {
    id: Id,
    balance: Type.Optional(MoneyInput),
    floor: Type.Optional(Type.Union([MoneyInput, Type.Null()])),
    nickname: Type.Optional(Nickname),
  },
  strict,
);
export type AccountBody = Static<typeof AccountBody>;

export const AccountBatchBody = Type.Object(
  { accounts: Type.Array(AccountBody, { minItems: 1, maxItems: REQUEST_TRANSFERS_MAX }) },
  strict,
);

export const AccountView = Type.Object({
  id: Type.String(),
  nickname: NullableString,
  balance: Decimal,
  reserved: Decimal,
  available: Decimal,
  floor: NullableDecimal,
  initial: Decimal,
  createdAtMs: Integer,
});

export const TransferBody = Type.Object(
  {
    id: Id,
    debitAccountId: Id,
    creditAccountId: Id,
    amount: MoneyInput,
    pending: Type.Optional(Type.Boolean()),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 0, maximum: PENDING_TIMEOUT_MS_MAX })),
  },
  strict,
);
export type TransferBody = Static<typeof TransferBody>;

export const TransferBatchBody = Type.Object(
  { transfers: Type.Array(TransferBody, { minItems: 1, maxItems: REQUEST_TRANSFERS_MAX }) },
  strict,
);

export const TransferView = Type.Object({
  id: Type.String(),
  debitAccountId: Type.String(),
  creditAccountId: Type.String(),
  amount: Decimal,
  pending: Type.Boolean(),
  timeoutMs: Integer,
  origin: Type.String(),
  state: Type.String({ description: "pending | posted | voided | expired | failed" }),
  code: Type.Optional(Type.String({ description: "failed only: why it was refused" })),
  sequence: NullableInteger,
  createdAtMs: Integer,
  resolvedAtMs: NullableInteger,
  expiresAtMs: NullableInteger,
});

/** One answer per item of a batch: the result name, its stable number, and the retry flag. */
export const BatchItem = Type.Object({
  id: Type.String(),
  code: Type.String(),
  result: Type.Integer(),
  duplicate: Type.Optional(Type.Boolean()),
});
export const BatchReply = success(Type.Object({ results: Type.Array(BatchItem) }));

// ---- /v1 assets ----

export const AssetBody = Type.Object({ id: Id, value: MoneyInput }, strict);
export const AssetUpdateBody = Type.Object({ delta: MoneyInput }, strict);
export const AssetView = Type.Object({ id: Type.String(), value: Decimal, updates: Integer });

// ---- /v1 tables (generic transactions) ----

/** A column value: string, boolean, null, or an integer as {"int":"123"} (or a safe JSON integer). */
export const ValueInput = Type.Union([
  Type.String({ maxLength: TEXT_BYTES_MAX }),
  Type.Boolean(),
  Type.Null(),
  Type.Number(),
  Type.Object({ int: Type.String({ pattern: "^-?[0-9]{1,20}$" }) }, strict),
]);

const RowInput = Type.Record(ColumnName, ValueInput, {
  maxProperties: ROW_COLUMNS_MAX,
  additionalProperties: false,
});

const Condition = Type.Union([
  Type.Object({ kind: Type.Literal("exists") }, strict),
  Type.Object({ kind: Type.Literal("absent") }, strict),
  Type.Object(
    {
      kind: Type.Literal("compare"),
      column: ColumnName,
      operator: Type.Union(["eq", "ne", "lt", "le", "gt", "ge"].map((op) => Type.Literal(op))),
      value: ValueInput,
    },
    strict,
  ),
  Type.Object({ kind: Type.Literal("floor"), column: ColumnName, minimum: MoneyInput }, strict),
]);
const Conditions = Type.Optional(Type.Array(Condition, { maxItems: ROW_COLUMNS_MAX }));
const target = { table: TableName, key: Id, conditions: Conditions };

export const OperationInput = Type.Union([
  Type.Object({ kind: Type.Literal("insert"), ...target, values: RowInput }, strict),
  Type.Object(
    {
      kind: Type.Literal("update"),
      ...target,
      set: Type.Optional(RowInput),
      increment: Type.Optional(
        Type.Record(ColumnName, MoneyInput, {
          maxProperties: ROW_COLUMNS_MAX,
          additionalProperties: false,
        }),
      ),
    },
    strict,
  ),
  Type.Object({ kind: Type.Literal("delete"), ...target }, strict),
  Type.Object({ kind: Type.Literal("read"), ...target }, strict),
]);
export type OperationInput = Static<typeof OperationInput>;

export const TxnBody = Type.Object(
  { operations: Type.Array(OperationInput, { minItems: 1, maxItems: TXN_OPERATIONS_MAX }) },
  strict,
);

export const TableBody = Type.Object(
  {
    name: TableName,
    indexes: Type.Optional(
      Type.Array(ColumnName, { maxItems: ROW_COLUMNS_MAX, uniqueItems: true }),
    ),
  },
  strict,
);

const ValueOutput = Type.Unsafe<unknown>({
  description: 'string, boolean, null, or {"int":"<decimal>"}',
});
export const RowOutput = Type.Record(Type.String(), ValueOutput);
export const NullableRowOutput = Type.Union([RowOutput, Type.Null()]);

// ---- params and query strings (query values arrive as strings and are converted) ----

export const IdParams = Type.Object({ id: Id });
export const TableParams = Type.Object({ name: TableName });
export const TableRowParams = Type.Object({ name: TableName, key: Id });

const Offset = Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }));
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: LIST_PAGE_ROWS_MAX }));

export const PageQuery = Type.Object({ offset: Offset, limit: Limit }, strict);
export const TransfersQuery = Type.Object(
  { offset: Offset, limit: Limit, state: Type.Optional(Type.Literal("pending")) },
  strict,
);
export const HistoryQuery = Type.Object(
  { limit: Limit, before: Type.Optional(Type.Integer({ minimum: 0 })) },
  strict,
);
export const LookupQuery = Type.Object(
  {
    column: ColumnName,
    value: Type.String({ maxLength: TEXT_BYTES_MAX }),
    type: Type.Optional(
      Type.Union([Type.Literal("string"), Type.Literal("int"), Type.Literal("bool")]),
    ),
    limit: Limit,
  },
  strict,
);
