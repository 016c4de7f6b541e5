// /v1 assets (TxTest's model): keyed signed 64-bit values, created once and then changed by
// atomic increments applied first come, first served in log order. Values are decimal strings
// in answers. An update of an asset that does not exist is refused before logging (assets are
// never deleted, so the applied state settles it).
import { ResultCode } from "../../engine/index.ts";
import type { Shard } from "../../shard/index.ts";
import type { HttpApp } from "./app.ts";
import { notFound, refusal } from "./errors.ts";
import { parseSigned } from "./input.ts";
import { liveEngine } from "./live-engine.ts";
import { engineReply } from "./replies.ts";
import { AssetBody, AssetUpdateBody, AssetView, failed, IdParams, success } from "./schemas.ts";
import { assetView } from "./views.ts";

const tags = ["v1 assets"];

export function registerAssetRoutes(app: HttpApp, shard: Shard): void {
  const engine = liveEngine(shard);
  app.post(
    "/v1/assets",
    {
      schema: {
        tags,
        summary: "Create an asset with its initial value",
        body: AssetBody,
        response: { 201: success(AssetView), 409: failed(AssetView) },
      },
    },
    async (request, reply) => {
      const { id } = request.body;
      const value = parseSigned(request.body.value, "value");
      const existing = engine.asset(id);
      if (existing !== undefined) {
        throw refusal(ResultCode.ASSET_EXISTS, { data: assetView(existing) });
      }
      const result = await shard.submit({ kind: "asset.create", id, value });
      return engineReply(reply, result, assetView, 201);
    },
  );
  app.post(
    "/v1/assets/:id/update",
    {
      schema: {
        tags,
        summary: "Add a signed delta to an asset's value",
        params: IdParams,
        body: AssetUpdateBody,
        response: { 200: success(AssetView), 422: failed(AssetView) },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const delta = parseSigned(request.body.delta, "delta");
      if (engine.asset(id) === undefined) throw refusal(ResultCode.ASSET_NOT_FOUND);
      const result = await shard.submit({ kind: "asset.update", id, delta });
      return engineReply(reply, result, assetView, 200);
    },
  );
  app.get(
    "/v1/assets/:id",
    {
      schema: {
        tags,
        summary: "One asset",
        params: IdParams,
        response: { 200: success(AssetView) },
      },
    },
    (request) => {
      const row = engine.asset(request.params.id);
      if (row === undefined) throw notFound(`no asset '${request.params.id}'`);
      return { status: "success" as const, data: assetView(row) };
    },
  );
}
