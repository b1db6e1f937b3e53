/**
 * An HTTP proxy in front of the local stack, for tests of a client (the importer, the smoke scenario) when the network
 * or the API misbehaves: it can hold a request without ever answering, answer one itself, answer late, or lose the
 * API's answer after the API applied the request. Requests are forwarded one at a time, in the order they came, so a
 * request reaches the stack only once the one before it was applied there, however late that one's answer is.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxyBehaviour {
  /** What to do with a request before it is forwarded: `hold` never answers it; an answer is given without the API. */
  before?(request: IncomingMessage): 'hold' | { status: number; headers?: Record<string, string>; body: string } | undefined;
  /** What to do with the API's answer: `lose` cuts the client's connection instead; a number delays it (ms). */
  after?(request: IncomingMessage): 'lose' | number | undefined;
}

export interface ForwardingProxy {
  readonly url: string;
  close(): Promise<void>;
}

const hopByHop = ['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'];

export async function startForwardingProxy(target: string, behaviour: ProxyBehaviour = {}): Promise<ForwardingProxy> {
  let forwarded = Promise.resolve();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const first = behaviour.before?.(request);
      if (first === 'hold') return;
      if (first !== undefined) {
        response.writeHead(first.status, { 'Content-Type': 'application/json', ...first.headers });
        response.end(first.body);
        return;
      }
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !hopByHop.includes(name)).map(([name, value]) => [name, String(value)]));
      forwarded = forwarded.then(() =>
        fetch(target + request.url, { method: request.method!, headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) }).then(
          async (answer) => {
            const kept = ['content-type', 'etag', 'retry-after'].filter((name) => answer.headers.has(name)).map((name) => [name, answer.headers.get(name)!]);
            const body = Buffer.from(await answer.arrayBuffer());
            const then = behaviour.after?.(request);
            if (then === 'lose') {
              request.socket.destroy();
              return;
            }
            setTimeout(() => {
              response.writeHead(answer.status, Object.fromEntries(kept));
              response.end(body);
            }, then ?? 0);
          },
          () => void response.destroy(),
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
