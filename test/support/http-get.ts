// One GET on a connection of its own (no keep-alive: an open idle socket would keep an instance awake),
// collecting the whole body.
import http from 'node:http';

export interface GetResult {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function httpGet(url: string, opts: { headers?: Record<string, string>; localAddress?: string } = {}): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, ...opts }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}
