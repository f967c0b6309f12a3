// A small HTTP load generator, run as its own process by the benches (so the
// server under test has the bench process's event loop to itself): keeps
// `connections` keep-alive requests in flight for `seconds` and prints one JSON
// line { requests, seconds, rps, p50Ms, p99Ms, errors, firstBody }.
//
//   node --import tsx bench/_load.ts '<json: { url, method, headers, body, connections, seconds }>'
import http from "node:http";

type Spec = { url: string; method?: string; headers?: Record<string, string>; body?: string; connections: number; seconds: number };
const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
const url = new URL(spec.url);
const body = spec.body ? Buffer.from(spec.body) : undefined;
const headers = { ...spec.headers, ...(body ? { "content-length": String(body.length) } : {}) };

function once(): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, hostname: url.hostname, port: url.port, path: url.pathname + url.search, method: spec.method ?? "GET", headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const latencies: number[] = [];
let errors = 0;
let firstBody: string | undefined;
const deadline = performance.now() + spec.seconds * 1000;
const started = performance.now();
await Promise.all(
  Array.from({ length: spec.connections }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const res = await once();
        if (res.status !== 200) errors++;
        firstBody ??= res.text.slice(0, 300);
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, seconds, rps: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), errors, firstBody })}\n`,
);
