// The web console's HTTP side, a fastify plugin the server registers next to the API:
//   GET /                      redirects to /console/
//   GET /console/              the single-page app (static/index.html)
//   GET /console/<file>        its scripts and styles (static/), and plot.js (the compiled
//                              src/plot/charts.ts, the same charts as the bench report)
//   GET /console/api/live      the per-second live series (metrics/live-series.ts)
//   GET /console/api/cluster   shards with primary, standbys, epoch, positions, lag
//   GET /console/api/accounts  account search (?q=, ?limit=)
// Everything else the page needs is the public /v1 API, so the console shows what a client
// would see, errors included.
//
// Guarantees: the page's files are read once at start into memory (a missing file fails the
// start, not a request); only listed files are served (no path from the URL reaches the file
// system); every answer has a content type, an ETag and `cache-control: no-cache`, and the
// page a Content-Security-Policy that allows nothing but this origin (no CDN, works offline).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { CONSOLE_SEARCH_RESULTS_MAX, LIVE_SERIES_POINTS_MAX } from "../constants.ts";
import type { NodeMetrics } from "../metrics/index.ts";
import type { Shard } from "../shard/index.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import { type NodeInfo, singleNodeCluster } from "./cluster.ts";
import { searchAccounts } from "./search.ts";

export interface ConsoleOptions {
  readonly shard: Shard;
  readonly metrics: NodeMetrics;
  readonly node: NodeInfo;
}

interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

const contentTypes: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

/** Served name -> file, relative to this compiled file (dist/src/console/routes.js). */
const files: Readonly<Record<string, string>> = {
  "index.html": "../../../src/console/static/index.html",
  "console.css": "../../../src/console/static/console.css",
  "app.js": "../../../src/console/static/app.js",
  "api.js": "../../../src/console/static/api.js",
  "format.js": "../../../src/console/static/format.js",
  "views.js": "../../../src/console/static/views.js",
  "favicon.svg": "../../../src/console/static/favicon.svg",
  "plot.js": "../plot/charts.js",
};

const contentSecurityPolicy =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

function loadFiles(): Map<string, StaticFile> {
  const loaded = new Map<string, StaticFile>();
  for (const [name, relative] of Object.entries(files)) {
    const body = readFileSync(new URL(relative, import.meta.url));
    const extension = name.slice(name.lastIndexOf(".") + 1);
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"`;
    loaded.set(name, { body, contentType: contentTypes[extension] ?? "text/plain", etag });
  }
  return loaded;
}

const SearchQuery = Type.Object(
  {
    q: Type.String({ minLength: 1, maxLength: 256 }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CONSOLE_SEARCH_RESULTS_MAX })),
  },
  { additionalProperties: false },
);

const LiveQuery = Type.Object(
  { since: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);

const FileParams = Type.Object({ file: Type.String({ pattern: "^[a-z0-9-]+\\.[a-z]+$" }) });

const hidden = { hide: true };

export function consoleRoutes(options: ConsoleOptions): FastifyPluginCallback {
  const loaded = loadFiles();
  const startedMs = Date.now();
  return (instance: FastifyInstance, _pluginOptions, done) => {
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();
    const { shard, metrics, node } = options;
    const send = (request: FastifyRequest, reply: FastifyReply, name: string) => {
      const file = loaded.get(name);
      if (file === undefined) throw new TxgridError(ErrorCode.NOT_FOUND, `no console file ${name}`);
      reply.header("etag", file.etag).header("cache-control", "no-cache");
      reply.header("x-content-type-options", "nosniff");
      if (name.endsWith(".html")) reply.header("content-security-policy", contentSecurityPolicy);
      if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
      return reply.type(file.contentType).send(file.body);
    };
    app.get("/", { schema: hidden }, (_request, reply) => reply.redirect("/console/"));
    app.get("/console", { schema: hidden }, (_request, reply) => reply.redirect("/console/"));
    app.get("/console/", { schema: hidden }, (request, reply) =>
      send(request, reply, "index.html"),
    );
    app.get("/console/:file", { schema: { ...hidden, params: FileParams } }, (request, reply) =>
      send(request, reply, request.params.file),
    );
    app.get("/console/api/live", { schema: { ...hidden, querystring: LiveQuery } }, (request) => {
      const points = metrics.live.points(request.query.since ?? 0);
      return {
        status: "success" as const,
        data: { points: points.slice(-LIVE_SERIES_POINTS_MAX), nowMs: Date.now() },
      };
    });
    app.get("/console/api/cluster", { schema: hidden }, (request) => {
      const self = request.host;
      const uptimeSeconds = (Date.now() - startedMs) / 1000;
      const view = singleNodeCluster(
        node,
        self,
        shard.status(),
        metrics.replicationLag(),
        uptimeSeconds,
        metrics.replicationRole(),
      );
      return { status: "success" as const, data: view };
    });
    app.get(
      "/console/api/accounts",
      { schema: { ...hidden, querystring: SearchQuery } },
      (request) => {
        const { q, limit = 50 } = request.query;
        return { status: "success" as const, data: searchAccounts(shard.engine, q.trim(), limit) };
      },
    );
    done();
  };
}
