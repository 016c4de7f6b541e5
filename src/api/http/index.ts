// api/http: the REST faces of a shard: TiMPE-compatible routes and the versioned /v1 API
// (ledger, assets, tables, admin), with an OpenAPI document at GET /docs. docs/api.md lists
// every route, its answers and the status/code table.
export { buildHttpApp, type HttpAppOptions, type RequestObserver } from "./app.ts";
export { INTERNAL_ERROR_CODE } from "./errors.ts";
export { timpeUserId } from "./timpe-routes.ts";
export { type AccountJson, accountView, transferView } from "./views.ts";
