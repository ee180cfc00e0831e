import http, { type IncomingMessage, type ServerOptions, type ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import type { CacheServerConfig } from '@simple-cache/common';
import type { Logger } from 'pino';
import { readClientAddressesOf } from '../client-address.js';
import { applyIdleTimeout } from '../limits/idle-timeout.js';
import { contextOptions, loadCertificates, reloadCertificates, type Certificates } from './certificates.js';
import { createHttp2Listener, type Http2Listener } from './http2-server.js';
import { redirectToHttps } from './redirect.js';
import { createTlsListener, type TlsListener } from './tls-listener.js';

/** Fastify's default: longer than common load balancers' idle timeouts, so they close first. */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** How often, while closing, keep-alive HTTPS/1.1 connections that have become idle are closed. */
const IDLE_SWEEP_MS = 50;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Listeners {
  /** The plain port's HTTP/1.1 server (`--port`): Fastify's `server`; HTTPS/1.1 connections are handed to it too. */
  http: http.Server;
  /** With `--tls-cert`: the TLS port and the HTTP/2 server behind it. */
  tls?: { listener: TlsListener; h2: Http2Listener };
  /** Servers whose connections count towards --max-connections, and those that accept connections. */
  servers: { counted: EventEmitter[]; listening: Server[] };
  /** Starts the TLS listener on `--tls-port` (the plain port is Fastify's to listen on). */
  listenTls(): Promise<void>;
  /** The TLS listener's address once listening. */
  tlsAddress(): AddressInfo | undefined;
  /**
   * For a reload: reads the certificate files again and checks the pair; throws
   * CertificateError without changing anything, else returns what puts them in force.
   */
  prepareCertificates(config: Pick<CacheServerConfig, 'tlsCert' | 'tlsKey' | 'cacheDir'>): () => Certificates;
  /** Stops accepting TLS connections and ends the HTTP/2 sessions gracefully (GOAWAY). */
  closeTls(): Promise<void>;
}

type ListenConfig = Pick<
  CacheServerConfig,
  | 'host'
  | 'tlsCert'
  | 'tlsKey'
  | 'tlsPort'
  | 'cacheDir'
  | 'redirectHttp'
  | 'maxStreams'
  | 'maxHeaderSize'
  | 'idleTimeout'
  | 'headersTimeout'
  | 'accessLog'
>;

/**
 * Builds the servers that accept clients: the plain HTTP/1.1 port always, and with a
 * certificate a TLS port speaking HTTP/2 and HTTP/1.1 (listen/tls-listener.ts says why it hands
 * connections on rather than using `allowHTTP1`). Every request, whatever its protocol, goes to
 * `handle`; with `--redirect-http` the plain port's go to a 308 instead.
 */
export async function createListeners(
  config: ListenConfig,
  limits: { http: ServerOptions; requestTimeout?: number; connectionTimeout?: number },
  handle: Handler,
  log: Logger,
): Promise<Listeners> {
  let tlsListener: TlsListener | undefined;
  // The port the TLS listener got (with --tls-port 0, the one the system chose).
  const tlsPort = () => {
    const address = tlsListener?.server.address();
    return typeof address === 'object' && address !== null ? address.port : config.tlsPort;
  };
  const plain: Handler =
    config.redirectHttp && config.tlsCert !== ''
      ? (req, res) => (isEncrypted(req) ? handle(req, res) : redirectToHttps(req, res, tlsPort()))
      : handle;
  const server = http.createServer(limits.http);
  // What Fastify does to the servers it creates itself (lib/server.js), but for the idle timeout,
  // armed per connection only where needed (limits/idle-timeout.ts).
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.requestTimeout = limits.requestTimeout ?? 0;
  // No count of header lines, only --max-header-size (431 beyond), as nginx: Node's default keeps
  // the first 1,000 lines and drops the rest unseen while its parser still frames the body by
  // them (an upload forwarded without its body, an Authorization ignored; F32). 0 = no count.
  server.maxHeadersCount = 0;
  server.on('request', applyIdleTimeout(server, limits.connectionTimeout ?? 0, server.headersTimeout, plain));
  // The access log names each request's client, also after its connection closed (client-address.ts).
  const namesClients = config.accessLog !== 'off';
  if (namesClients) readClientAddressesOf(server);
  const none: Listeners = {
    http: server,
    servers: { counted: [server], listening: [server] },
    listenTls: async () => {},
    tlsAddress: () => undefined,
    prepareCertificates: () => () => {
      throw new Error('no TLS listener');
    },
    closeTls: async () => {},
  };
  if (config.tlsCert === '') return none;

  const tlsLog = log.child({ component: 'tls' });
  const certificates = await loadCertificates(config);
  const h2 = createHttp2Listener(config, KEEP_ALIVE_TIMEOUT_MS, handle, tlsLog, namesClients);
  const listener = (tlsListener = createTlsListener(
    contextOptions(certificates),
    { http: server, h2: h2.server },
    { handshakeTimeoutMs: config.headersTimeout },
    tlsLog,
  ));
  logCertificates(tlsLog, certificates, 'TLS certificate loaded');
  return {
    http: server,
    tls: { listener, h2 },
    servers: { counted: [server, h2.server], listening: [server, listener.server] },
    listenTls: () =>
      new Promise<void>((resolve, reject) => {
        listener.server.once('error', reject);
        listener.server.listen({ port: config.tlsPort, host: config.host }, () => {
          listener.server.off('error', reject);
          resolve();
        });
      }),
    tlsAddress: () => {
      const address = listener.server.address();
      return typeof address === 'object' && address !== null ? address : undefined;
    },
    prepareCertificates: (next) => {
      const read = reloadCertificates(next);
      const options = contextOptions(read);
      return () => {
        listener.setSecureContext(options);
        logCertificates(tlsLog, read, 'TLS certificate re-read');
        return read;
      };
    },
    closeTls: async () => {
      if (!listener.server.listening) return;
      const closed = new Promise<void>((resolve) => listener.server.close(() => resolve()));
      // HTTPS/1.1 connections belong to the plain server, which closes only those idle when it
      // closes: the ones busy then are closed as they become idle.
      const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      try {
        await h2.close();
        await closed;
      } finally {
        clearInterval(sweep);
      }
    },
  };
}

/** True for a request that came over TLS (HTTP/2 only ever does; HTTP/1.1 on the TLS port). */
export function isEncrypted(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean } | null)?.encrypted === true;
}

function logCertificates(log: Pick<Logger, 'info'>, certificates: Certificates, message: string): void {
  const { source, subject, fingerprint, validTo } = certificates;
  log.info({ file: source, subject, fingerprint, validTo }, message);
}
