// Test support for the client tests: a TCP proxy between a client and a server on
// 127.0.0.1 that can swallow the server's replies (requests arrive and are executed, their
// answers never come back) and cut every connection, to create the situations reconnection
// and resending exist for: a broken connection with requests in flight whose outcome the
// client cannot see.
import { connect, createServer, type Server, type Socket } from "node:net";

export class TcpProxy {
  readonly #server: Server;
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  /** While true, bytes from the server are dropped. */
  swallowReplies = false;
  /** Bytes forwarded from clients to the server so far. */
  bytesForwarded = 0;
  port = 0;

  private constructor(targetPort: number) {
    this.#targetPort = targetPort;
    this.#server = createServer((client) => this.#onConnection(client));
  }

  static async start(targetPort: number, port = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await new Promise<void>((resolve) => proxy.#server.listen(port, "127.0.0.1", resolve));
    const address = proxy.#server.address();
    proxy.port = typeof address === "object" && address !== null ? address.port : port;
    return proxy;
  }

  get url(): string {
    return `txgrid://127.0.0.1:${this.port}`;
  }

  /** Destroys every open connection (both sides); new ones are still accepted. */
  cut(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #onConnection(client: Socket): void {
    const upstream = connect({ host: "127.0.0.1", port: this.#targetPort });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => {
      this.bytesForwarded += chunk.length;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!this.swallowReplies) client.write(chunk);
    });
  }
}
