import { createHash, createHmac, randomBytes, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * A stand-in for the CloudFront API's CreateInvalidation, for contract tests: CloudFront has
 * no local implementation, so this server checks each request the SDK sends the way
 * CloudFront would, and answers as CloudFront does, so that the SDK parses the answer.
 *
 * Checked, in this order (the first failure is answered with CloudFront's error XML):
 * 1. SigV4: the Authorization header is recomputed with @smithy/signature-v4 from the method,
 *    path, query, signed headers and body received, the test credentials, service
 *    `cloudfront` and region us-east-1, and compared in constant time (403
 *    SignatureDoesNotMatch, InvalidClientTokenId, IncompleteSignature); x-amz-date must be
 *    within 5 minutes of now (403 RequestExpired) and, when sent, x-amz-content-sha256 must
 *    be the body's hash (400 XAmzContentSHA256Mismatch).
 * 2. Failures asked for with failNext() (500 InternalError / 503 ServiceUnavailable).
 * 3. The operation: POST /2020-05-31/distribution/{id}/invalidation for the configured
 *    distribution (404 NoSuchDistribution), an InvalidationBatch whose Paths/Quantity equals
 *    its Items, 1 to 3000 paths each starting with '/', `*` only last and at most 15 such
 *    paths (400 InvalidArgument / InconsistentQuantities / TooManyInvalidationsInProgress),
 *    a CallerReference never used before (409 InvalidationBatchAlreadyExists).
 *
 * A valid request is answered 201 with a Location header and a CreateInvalidationResult
 * (Invalidation Id, Status, CreateTime, the batch). `setUnreachable(true)` drops every
 * connection as it opens, as a network outage does, on the same port.
 */

export const CONTRACT_REGION = 'us-east-1';
const SERVICE = 'cloudfront';
const API_VERSION = '2020-05-31';
const XMLNS = `http://cloudfront.amazonaws.com/doc/${API_VERSION}/`;
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export interface ContractCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Every request received, valid or not. */
export interface ReceivedRequest {
  method: string;
  path: string;
  status: number;
  /** The error code answered, if any. */
  error?: string;
}

/** A batch accepted (answered 201). */
export interface AcceptedInvalidation {
  id: string;
  distributionId: string;
  callerReference: string;
  paths: string[];
}

export interface CloudFrontContractServer {
  /** For CLOUDFRONT_ENDPOINT: `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly distributionId: string;
  readonly credentials: ContractCredentials;
  readonly requests: readonly ReceivedRequest[];
  readonly invalidations: readonly AcceptedInvalidation[];
  /** The next `count` signed requests are answered `status` (500 InternalError or 503 ServiceUnavailable). */
  failNext(count: number, status?: 500 | 503): void;
  /** While true, every connection is dropped as it opens. */
  setUnreachable(unreachable: boolean): void;
  close(): Promise<void>;
}

class ContractError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export async function startCloudFrontContractServer(options: { distributionId?: string; credentials?: ContractCredentials } = {}): Promise<CloudFrontContractServer> {
  const distributionId = options.distributionId ?? 'E2CONTRACT7TEST';
  const credentials = options.credentials ?? { accessKeyId: 'AKIACONTRACTTEST0001', secretAccessKey: randomBytes(30).toString('base64') };
  const requests: ReceivedRequest[] = [];
  const invalidations: AcceptedInvalidation[] = [];
  const callerReferences = new Set<string>();
  const sockets = new Set<Socket>();
  let failures: { count: number; status: 500 | 503 } = { count: 0, status: 503 };
  let unreachable = false;
  let endpoint = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://contract.invalid');
    const received: ReceivedRequest = { method: req.method ?? '', path: url.pathname, status: 0 };
    requests.push(received);
    try {
      await verifySignature(req, url, body, credentials);
      if (failures.count > 0) {
        failures.count -= 1;
        throw failures.status === 503
          ? new ContractError(503, 'ServiceUnavailable', 'Service is unavailable, please try again later.')
          : new ContractError(500, 'InternalError', 'We encountered an internal error. Please try again.');
      }
      const match = /^\/2020-05-31\/distribution\/([^/]+)\/invalidation$/.exec(url.pathname);
      if (!match) throw new ContractError(404, 'NotFound', `No operation at ${req.method} ${url.pathname}`);
      if (req.method !== 'POST') throw new ContractError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
      if (decodeURIComponent(match[1]!) !== distributionId) throw new ContractError(404, 'NoSuchDistribution', 'The specified distribution does not exist.');
      const batch = parseInvalidationBatch(body.toString('utf8'));
      if (callerReferences.has(batch.callerReference)) {
        throw new ContractError(409, 'InvalidationBatchAlreadyExists', `An invalidation batch with CallerReference ${batch.callerReference} already exists.`);
      }
      callerReferences.add(batch.callerReference);
      const accepted: AcceptedInvalidation = { id: `I${randomBytes(6).toString('hex').toUpperCase()}`, distributionId, ...batch };
      invalidations.push(accepted);
      received.status = 201;
      res.writeHead(201, {
        'content-type': 'text/xml',
        location: `${endpoint}/${API_VERSION}/distribution/${distributionId}/invalidation/${accepted.id}`,
        'x-amz-request-id': randomBytes(8).toString('hex'),
      });
      res.end(invalidationXml(accepted));
    } catch (error) {
      const e = error instanceof ContractError ? error : new ContractError(500, 'InternalError', String(error));
      received.status = e.status;
      received.error = e.code;
      res.writeHead(e.status, { 'content-type': 'text/xml', 'x-amz-request-id': randomBytes(8).toString('hex') });
      res.end(errorXml(e));
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    if (unreachable) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    distributionId,
    credentials,
    requests,
    invalidations,
    failNext(count, status = 503) {
      failures = { count, status };
    },
    setUnreachable(value) {
      unreachable = value;
      // Kept-alive connections would otherwise still reach the server.
      if (value) for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** Recomputes the request's SigV4 signature from what was received; throws a 403/400 ContractError when it does not hold. */
async function verifySignature(req: IncomingMessage, url: URL, body: Buffer, credentials: ContractCredentials): Promise<void> {
  const authorization = req.headers.authorization;
  if (!authorization) throw new ContractError(403, 'MissingAuthenticationToken', 'Missing Authentication Token');
  const parts = AUTHORIZATION.exec(authorization);
  if (!parts) throw new ContractError(403, 'IncompleteSignature', `Authorization header is not a SigV4 header: ${authorization}`);
  const [, accessKeyId, scopeDate, region, service, signedHeaderList] = parts as unknown as [string, string, string, string, string, string];
  if (accessKeyId !== credentials.accessKeyId) throw new ContractError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
  if (region !== CONTRACT_REGION || service !== SERVICE) {
    throw new ContractError(403, 'SignatureDoesNotMatch', `Credential should be scoped to region ${CONTRACT_REGION} and service ${SERVICE}, got ${region}/${service}`);
  }

  const amzDate = header(req, 'x-amz-date');
  const dateParts = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate ?? '');
  if (!amzDate || !dateParts) throw new ContractError(403, 'IncompleteSignature', 'x-amz-date is missing or not in ISO 8601 basic format');
  const [, y, mo, d, h, mi, s] = dateParts.map(Number) as [number, number, number, number, number, number, number];
  const signingDate = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (Math.abs(Date.now() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) throw new ContractError(403, 'RequestExpired', `Request has expired: x-amz-date ${amzDate} is more than 5 minutes from now`);
  if (amzDate.slice(0, 8) !== scopeDate) throw new ContractError(403, 'SignatureDoesNotMatch', 'The credential scope date is not the date of x-amz-date');

  const signedHeaders = signedHeaderList.split(';');
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) throw new ContractError(403, 'SignatureDoesNotMatch', `${required} must be signed`);
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = header(req, name);
    if (value === undefined) throw new ContractError(403, 'SignatureDoesNotMatch', `Signed header ${name} is missing from the request`);
    headers[name] = value;
  }
  const contentSha256 = header(req, 'x-amz-content-sha256');
  if (contentSha256 !== undefined && contentSha256 !== createHash('sha256').update(body).digest('hex')) {
    throw new ContractError(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }

  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0]! : values;
  }
  const host = headers.host ?? '';
  const signer = new SignatureV4({ service: SERVICE, region: CONTRACT_REGION, credentials, sha256: NodeSha256, applyChecksum: false });
  const expected = await signer.sign(
    { method: req.method ?? 'GET', protocol: 'http:', hostname: host.replace(/:\d+$/, ''), path: url.pathname, query, headers, body },
    { signingDate },
  );
  const expectedAuthorization = String(expected.headers.authorization);
  const same = expectedAuthorization.length === authorization.length && timingSafeEqual(Buffer.from(expectedAuthorization), Buffer.from(authorization));
  if (!same) {
    throw new ContractError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** SHA-256 and HMAC-SHA256 from node:crypto, in the shape @smithy/signature-v4 takes. */
export class NodeSha256 {
  private hash!: Hash | Hmac;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.reset();
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    const secret = this.secret;
    this.hash = secret === undefined
      ? createHash('sha256')
      : createHmac('sha256', typeof secret === 'string' ? secret : ArrayBuffer.isView(secret) ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength) : Buffer.from(secret));
  }
}

interface ParsedBatch {
  callerReference: string;
  paths: string[];
}

// The whole document, as the CloudFront API reference gives it: nothing else is accepted.
const BATCH = new RegExp(
  `^(?:<\\?xml version="1\\.0" encoding="UTF-8"\\?>)?\\s*<InvalidationBatch xmlns="${XMLNS.replaceAll('.', '\\.')}">\\s*` +
    '<Paths>\\s*<Quantity>(\\d+)</Quantity>\\s*(?:<Items>((?:\\s*<Path>[^<]*</Path>)*)\\s*</Items>)?\\s*</Paths>\\s*' +
    '<CallerReference>([^<]+)</CallerReference>\\s*</InvalidationBatch>\\s*$',
);

function parseInvalidationBatch(xml: string): ParsedBatch {
  const match = BATCH.exec(xml);
  if (!match) throw new ContractError(400, 'MalformedInput', `The XML is not an InvalidationBatch (${API_VERSION}): ${xml.slice(0, 200)}`);
  const quantity = Number(match[1]);
  const paths = [...(match[2] ?? '').matchAll(/<Path>([^<]*)<\/Path>/g)].map((m) => unescapeXml(m[1]!));
  const callerReference = unescapeXml(match[3]!);
  if (quantity !== paths.length) throw new ContractError(400, 'InconsistentQuantities', `Quantity ${quantity} does not match the ${paths.length} path(s) in Items.`);
  if (paths.length === 0) throw new ContractError(400, 'InvalidArgument', 'An invalidation batch needs at least one path.');
  if (paths.length > 3000) throw new ContractError(413, 'BatchTooLarge', 'Invalidation batch specified is too large (more than 3000 paths).');
  for (const path of paths) {
    if (!path.startsWith('/')) throw new ContractError(400, 'InvalidArgument', `Your request contains one or more invalid invalidation paths: ${path} does not start with /.`);
    if (path.slice(0, -1).includes('*')) throw new ContractError(400, 'InvalidArgument', `Your request contains one or more invalid invalidation paths: * must be the last character of ${path}.`);
  }
  if (paths.filter((p) => p.endsWith('*')).length > 15) {
    throw new ContractError(400, 'TooManyInvalidationsInProgress', 'Your request contains more than 15 invalidation paths with a wildcard.');
  }
  return { callerReference, paths };
}

function invalidationXml(invalidation: AcceptedInvalidation): string {
  const items = invalidation.paths.map((p) => `<Path>${escapeXml(p)}</Path>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Invalidation xmlns="${XMLNS}"><Id>${invalidation.id}</Id><Status>InProgress</Status>` +
    `<CreateTime>${new Date().toISOString()}</CreateTime><InvalidationBatch><Paths><Quantity>${invalidation.paths.length}</Quantity>` +
    `<Items>${items}</Items></Paths><CallerReference>${escapeXml(invalidation.callerReference)}</CallerReference></InvalidationBatch></Invalidation>`;
}

function errorXml(error: ContractError): string {
  return `<?xml version="1.0"?>\n<ErrorResponse xmlns="${XMLNS}"><Error><Type>${error.status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
    `<Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${randomBytes(8).toString('hex')}</RequestId></ErrorResponse>`;
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}
function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-f]+|#\d+);/gi, (entity: string, name: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (named[name.toLowerCase()]) return named[name.toLowerCase()]!;
    const code = name.startsWith('#x') || name.startsWith('#X') ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
    return Number.isFinite(code) ? String.fromCodePoint(code) : entity;
  });
}
