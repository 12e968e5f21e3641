/**
 * The tracker's Prometheus endpoint: `GET /metrics` answers the exposition
 * text, anything else 404. Opt-in (METRICS_PORT); listens on METRICS_HOST,
 * loopback by default. Closed in the tracker's shutdown, after the consumer.
 */
import type { TrackerExposition } from "./prometheus.ts";

/** A listening endpoint; `close()` is idempotent. */
export interface MetricsServer {
  /** host:port it listens on. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Starts serving `exposition` on `hostname:port`.
 *
 * @throws {Error} when the address cannot be listened on (in use, not local), with the cause
 */
export function serveMetrics(
  { hostname, port }: { hostname: string; port: number },
  exposition: TrackerExposition,
): MetricsServer {
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({ hostname, port, onListen: () => {} }, async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname !== "/metrics") {
        return new Response("Not found: try /metrics\n", { status: 404 });
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET" } });
      }
      return new Response(request.method === "HEAD" ? null : await exposition.text(), {
        headers: { "content-type": exposition.contentType },
      });
    });
  } catch (error) {
    throw new Error(
      `Cannot serve metrics on ${hostname}:${port}: ${
        (error as Error).message
      }; set METRICS_PORT to a free port or unset it`,
      { cause: error },
    );
  }
  let closed: Promise<void> | undefined;
  return {
    address: `${hostname}:${port}`,
    close() {
      closed ??= server.shutdown();
      return closed;
    },
  };
}
