import type { AddressInfo } from 'node:net';
import { type Limits, WebSocketServer } from '@ieum/websocket';

export interface EchoServerOptions {
  port: number;
  host?: string;
  limits?: Partial<Limits>;
  /** Accept permessage-deflate offers. Default false. */
  deflate?: boolean;
  log?: (line: string) => void;
}

/**
 * Starts a server that echoes every text and binary message back unchanged (the Autobahn
 * "fuzzingclient" target). Resolves once it is listening.
 */
export async function startEchoServer(options: EchoServerOptions): Promise<WebSocketServer> {
  const wss = new WebSocketServer({
    port: options.port,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.deflate ? { perMessageDeflate: { threshold: 0 } } : {}),
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {
      // Protocol errors close the connection with the right code; nothing else to do here.
    });
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const address = wss.address() as AddressInfo;
  options.log?.(`ieum echo server listening on ws://${address.address}:${address.port}`);
  return wss;
}
