// embedded: txgrid opened in-process (`open({ dir })`) with the same TxgridApi as the TCP
// client, for programs that want no network hop.
export { type Embedded, type OpenOptions, open } from "./embedded.ts";
