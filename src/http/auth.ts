import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, type TokenVerifier } from '../auth/jwt.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user (the token's `sub`); set on every route behind requireBearerAuth. */
    userId: string;
  }
}

// RFC 6750: "Bearer" (any case), one or more spaces, then the token's characters.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Puts every route registered on `scope` behind `Authorization: Bearer <JWT>`. Runs in
 * onRequest, before the body is read, so an unauthenticated caller gets 401 whatever it
 * sends and never costs us a body parse. Failures are AuthError (UNAUTHORIZED); the error
 * handler answers 401 with WWW-Authenticate.
 */
export function requireBearerAuth(scope: FastifyInstance, verifyToken: TokenVerifier): void {
  if (!scope.hasRequestDecorator('userId')) scope.decorateRequest('userId', '');
  scope.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (!header) throw new AuthError('Authentication required: send Authorization: Bearer <token> (customify token --user <id> mints one).');
    const match = BEARER.exec(header);
    if (!match) throw new AuthError('Malformed Authorization header: expected "Bearer <token>".');
    const { userId } = await verifyToken(match[1]!);
    request.userId = userId;
  });
}
