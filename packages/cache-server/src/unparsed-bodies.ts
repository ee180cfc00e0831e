import type { FastifyInstance } from 'fastify';

/** The methods Fastify would read a body of (its `bodywith` set), with QUERY (RFC 10008). */
const BODY_METHODS = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'QUERY'] as const;

/**
 * Request bodies are never parsed, by the proxy (they stream to the origin untouched) nor by the
 * admin endpoints (which take no body): to Fastify every method is bodiless, so it never judges
 * `Content-Type` before our hooks run. Otherwise it answers with its own JSON: 400 to QUERY
 * without Content-Type, 415 to `Content-Type: text` or to what `curl -X DELETE -d …` sends,
 * 400 to JSON that does not parse.
 */
export function leaveBodiesUnparsed(app: FastifyInstance): void {
  for (const method of BODY_METHODS) app.addHttpMethod(method, { hasBody: false, overrideExisting: true });
}
