/**
 * A TCP proxy in front of the test server that can lose a COMMIT's answer: armed, it lets the
 * server's reply stream through until a CommandComplete "COMMIT", swallows that message and
 * drops the connection (the server committed; the client never hears it). It can also refuse
 * new connections for a while (the server looks down).
 */
import net from "node:net";

export interface CommitProxy {
  url: string;
  /** The next COMMIT answer is lost (resolves once it was); with `down`, new connections are refused from that moment. */
  loseNextCommit(down?: boolean): Promise<void>;
  /** New connections are refused (true: the port is closed, as a server that is down) or served again (false). */
  refuse(on: boolean): Promise<void>;
  close(): Promise<void>;
}

/** Whether a server → client message is CommandComplete with tag COMMIT. */
function isCommitDone(type: number, payload: Buffer): boolean {
  return type === 0x43 && payload.toString("latin1", 0, payload.length - 1) === "COMMIT";
}

export async function startProxy(target: string): Promise<CommitProxy> {
  const t = new URL(target);
  let armed: (() => void) | undefined;
  let thenDown = false;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(t.port), t.hostname);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const kill = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", kill);
    upstream.on("error", kill);
    client.on("close", kill);
    upstream.on("close", kill);
    client.pipe(upstream);
    // Server → client: parsed into messages (after the startup, every message is type + length).
    let pending = Buffer.alloc(0);
    upstream.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let p = 0;
      const out = 0;
      while (p + 5 <= pending.length) {
        const len = pending.readInt32BE(p + 1);
        if (p + 1 + len > pending.length) break;
        if (armed && isCommitDone(pending[p]!, pending.subarray(p + 5, p + 1 + len))) {
          client.write(pending.subarray(out, p)); // everything before the answer, not the answer
          const done = armed;
          armed = undefined;
          if (thenDown) server.close();
          kill();
          done();
          return;
        }
        p += 1 + len;
      }
      if (p > out) client.write(pending.subarray(out, p));
      pending = pending.subarray(p);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const u = new URL(target);
  u.port = String(port);
  return {
    url: u.toString(),
    loseNextCommit: (down = false) =>
      new Promise<void>((resolve) => {
        thenDown = down;
        armed = resolve;
      }),
    async refuse(on) {
      if (on)
        server.close(); // stops listening now; open connections stay
      else if (!server.listening) await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      if (server.listening) server.close();
    },
  };
}
