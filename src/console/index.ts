// console: the web console served by a node (/console/): the HTTP routes in routes.ts, the
// page in static/ (hand-written ES modules, no build step, no CDN), the account search and
// the cluster view it reads. docs/console.md shows what it offers.
export { type ClusterView, type ShardView, singleNodeCluster } from "./cluster.ts";
export { type ConsoleOptions, consoleRoutes } from "./routes.ts";
export { type SearchResult, searchAccounts } from "./search.ts";
