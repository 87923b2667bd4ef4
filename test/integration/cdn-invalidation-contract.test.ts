import { createHash, randomUUID } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCdnInvalidator, type CdnInvalidator, type CdnInvalidatorDeps } from '../../src/cdn/cdn-invalidator.js';
import type { CloudFrontSettings } from '../../src/cdn/cloudfront.sender.js';
import { InvalidationOutbox } from '../../src/cdn/invalidation-outbox.js';
import type { Database } from '../../src/db/database.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { NodeSha256, startCloudFrontContractServer, type CloudFrontContractServer } from '../helpers/cloudfront-contract-server.js';
import { createTestDatabase, DIALECTS, skipDialect, type TestDatabase } from '../helpers/databases.js';
import { until } from '../helpers/services.js';

/**
 * CloudFront invalidation against a contract server (test/helpers/cloudfront-contract-server.ts):
 * CloudFront has no local implementation, so the server checks what CloudFront would (a valid
 * SigV4 signature, a well-formed InvalidationBatch) and answers as CloudFront does. The outbox
 * is the real table on SQLite and PostgreSQL. Waits are on conditions, never on time.
 */

const SHORT = { batchDelayMs: 20, pollIntervalMs: 20, backoff: { baseMs: 10, maxMs: 50 } } as const;

function settingsFor(server: CloudFrontContractServer, overrides: Partial<CloudFrontSettings> = {}): CloudFrontSettings {
  return {
    cloudfrontDistributionId: server.distributionId,
    cloudfrontEndpoint: server.endpoint,
    awsRegion: 'us-east-1',
    awsAccessKeyId: server.credentials.accessKeyId,
    awsSecretAccessKey: server.credentials.secretAccessKey,
    ...overrides,
  };
}

const designKeys = (count: number, id = randomUUID()) => Array.from({ length: count }, (_, i) => `designs/${id}/v${i}/preview.png`);

/** One sample of the metrics text, e.g. `customify_cdn_invalidation_requests_total{outcome="sent"}`. */
async function sample(metrics: Metrics, series: string): Promise<number | undefined> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.each(DIALECTS.filter((d) => !skipDialect(d)))('CDN invalidation through the outbox (%s)', (dialect) => {
  let database: TestDatabase;
  let server: CloudFrontContractServer;
  let metrics: Metrics;
  const invalidators: CdnInvalidator[] = [];

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    server = await startCloudFrontContractServer();
    metrics = new Metrics({ defaultMetrics: false });
  });
  afterEach(async () => {
    for (const invalidator of invalidators.splice(0)) await invalidator.close();
    await server?.close();
    await database?.destroy();
  });

  function invalidator(options: Partial<CdnInvalidatorDeps> = {}): CdnInvalidator {
    const created = createCdnInvalidator({ db: database.db, settings: settingsFor(server), logger: silentLogger, metrics, ...SHORT, ...options });
    invalidators.push(created);
    return created;
  }

  const rows = (db: Database = database.db) => db.selectFrom('cdn_invalidations').selectAll().orderBy('path').execute();
  const backlog = () => sample(metrics, 'customify_cdn_invalidation_backlog');
  const delivered = () => server.invalidations.flatMap((i) => i.paths).sort();

  it('sends a burst of 50 keys as exactly one signed request holding all 50 paths, then forgets them', async () => {
    const cdn = invalidator({ batchDelayMs: 500 });
    const keys = designKeys(50);
    await Promise.all(keys.map((key) => cdn.invalidate([key])));
    await until('the burst to be sent', () => backlog(), (n) => n === 0);
    expect(server.invalidations).toHaveLength(1);
    expect(server.invalidations[0]!.paths.sort()).toEqual(keys.map((k) => `/${k}`).sort());
    expect(server.requests.map((r) => r.status)).toEqual([201]);
    expect(await rows()).toEqual([]);
    expect(await sample(metrics, 'customify_cdn_invalidation_requests_total{outcome="sent"}')).toBe(1);
    expect(await sample(metrics, 'customify_cdn_invalidation_paths_total')).toBe(50);
  });

  it('invalidates a prefix as /<prefix>* beside plain keys, and the same path once', async () => {
    const cdn = invalidator();
    const id = randomUUID();
    await cdn.invalidate([`designs/${id}/`, `designs/${id}/preview.png`, `designs/${id}/preview.png`]);
    await cdn.flush();
    expect(server.invalidations).toHaveLength(1);
    expect(server.invalidations[0]!.paths.sort()).toEqual([`/designs/${id}/*`, `/designs/${id}/preview.png`]);
  });

  it('records nothing for keys outside the storage key rules, and refuses the empty prefix', async () => {
    const cdn = invalidator();
    for (const bad of ['', '/', '/designs/x/preview.png', 'designs/../etc/passwd', 'designs//x.png', 'designs/x y.png']) {
      await expect(cdn.invalidate([`designs/${randomUUID()}/preview.png`, bad]), JSON.stringify(bad)).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' });
    }
    expect(await rows()).toEqual([]);
  });

  it('puts at most 15 wildcard paths in one request (CloudFront refuses more in progress)', async () => {
    const cdn = invalidator({ batchDelayMs: 60_000 });
    const prefixes = Array.from({ length: 20 }, () => `designs/${randomUUID()}/`);
    await cdn.invalidate([...prefixes, ...designKeys(3)]);
    await cdn.flush();
    expect(server.invalidations.map((i) => i.paths.filter((p) => p.endsWith('*')).length)).toEqual([15, 5]);
    expect(delivered()).toHaveLength(23);
    expect(await rows()).toEqual([]);
  });

  it('splits a backlog into requests of at most maxPathsPerRequest paths', async () => {
    const cdn = invalidator({ batchDelayMs: 60_000, maxPathsPerRequest: 7 });
    const keys = designKeys(20);
    await cdn.invalidate(keys);
    await cdn.flush();
    expect(server.invalidations.map((i) => i.paths.length)).toEqual([7, 7, 6]);
    expect(delivered()).toEqual(keys.map((k) => `/${k}`).sort());
  });

  it('a request signed with the wrong secret is refused by the server: the paths stay, with the reason', async () => {
    const logged: string[] = [];
    const logger = createLogger({ logLevel: 'warn', logFormat: 'json' }, 'test', { write: (line: string) => logged.push(line) });
    const cdn = invalidator({ settings: settingsFor(server, { awsSecretAccessKey: 'not-the-secret' }), logger, batchDelayMs: 60_000, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    const keys = designKeys(2);
    await cdn.invalidate(keys);
    await cdn.flush();
    expect(server.requests).toEqual([expect.objectContaining({ status: 403, error: 'SignatureDoesNotMatch' })]);
    expect(server.invalidations).toEqual([]);
    const waiting = await rows();
    expect(waiting.map((r) => r.path)).toEqual(keys.map((k) => `/${k}`).sort());
    for (const row of waiting) {
      expect(row.attempts).toBe(1);
      expect(row.last_error).toMatch(/^SignatureDoesNotMatch \(HTTP 403\)/);
      expect(Number(row.next_attempt_at)).toBeGreaterThan(Date.now());
    }
    expect(await sample(metrics, 'customify_cdn_invalidation_requests_total{outcome="failed"}')).toBe(1);
    expect(await backlog()).toBe(2);
    // The warning says what failed and what to change.
    const warnings = logged.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(warnings.map((w) => w.level)).toEqual([40]);
    expect(warnings[0]!.msg).toMatch(/2 path\(s\) failed: SignatureDoesNotMatch .*check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*retried/);
  });

  it('retries through 503 twice with backoff and delivers every path once: nothing lost, backlog 0, metrics counted', async () => {
    server.failNext(2, 503);
    const cdn = invalidator();
    const keys = designKeys(30);
    await cdn.invalidate(keys);
    await until('the paths to be delivered', () => backlog(), (n) => n === 0);
    expect(server.requests.map((r) => r.status)).toEqual([503, 503, 201]);
    expect(delivered()).toEqual(keys.map((k) => `/${k}`).sort());
    expect(await rows()).toEqual([]);
    expect(await sample(metrics, 'customify_cdn_invalidation_requests_total{outcome="failed"}')).toBe(2);
    expect(await sample(metrics, 'customify_cdn_invalidation_requests_total{outcome="sent"}')).toBe(1);
    expect(await sample(metrics, 'customify_cdn_invalidation_paths_total')).toBe(30);
  });

  it('counts each failure on the row and backs off while CloudFront answers 500', async () => {
    server.failNext(1000, 500);
    const cdn = invalidator({ backoff: { baseMs: 10, maxMs: 40 } });
    await cdn.invalidate(designKeys(1));
    const [row] = await until('three failures', () => rows(), (r) => (r[0]?.attempts ?? 0) >= 3);
    expect(row!.last_error).toMatch(/^InternalError \(HTTP 500\)/);
    expect(server.invalidations).toEqual([]);
    server.failNext(0);
    await until('the path to be delivered', () => backlog(), (n) => n === 0);
    expect(server.invalidations).toHaveLength(1);
  });

  it('keeps paths recorded while CloudFront is unreachable across a restart, and a new instance delivers them', async () => {
    server.setUnreachable(true);
    // Only the explicit flush sends, so the failures are counted exactly.
    const first = invalidator({ batchDelayMs: 60_000, pollIntervalMs: 60_000 });
    const keys = designKeys(5);
    await first.invalidate(keys);
    await first.flush();
    expect((await rows()).map((r) => r.attempts)).toEqual([1, 1, 1, 1, 1]);
    expect((await rows())[0]!.last_error).toMatch(/socket hang up|ECONNRESET|ECONNREFUSED/);
    await first.close();

    server.setUnreachable(false);
    // Another process: its own connection to the same database.
    const second = invalidator({ db: database.connect() });
    await until('the paths to be delivered', () => rows(), (r) => r.length === 0);
    expect(delivered()).toEqual(keys.map((k) => `/${k}`).sort());
    await second.close();
  });

  it('two processes flushing at once send each path exactly once', async () => {
    const options = { batchDelayMs: 60_000, pollIntervalMs: 60_000, maxPathsPerRequest: 10 };
    const a = invalidator(options);
    const b = invalidator({ ...options, db: database.connect() });
    const keys = designKeys(200);
    await a.invalidate(keys);
    await Promise.all([a.flush(), b.flush(), a.flush(), b.flush()]);
    const paths = server.invalidations.flatMap((i) => i.paths);
    expect(paths).toHaveLength(200);
    expect(new Set(paths).size).toBe(200);
    expect(await rows()).toEqual([]);
  });

  it('a pending burst is sent by close()', async () => {
    const cdn = invalidator({ batchDelayMs: 60_000, pollIntervalMs: 60_000 });
    await cdn.invalidate(designKeys(3));
    await cdn.close();
    expect(delivered()).toHaveLength(3);
  });

  it('disabled (no distribution id): enabled is false, nothing is recorded, no request is made', async () => {
    const cdn = invalidator({ settings: settingsFor(server, { cloudfrontDistributionId: '' }) });
    expect(cdn.enabled).toBe(false);
    await cdn.invalidate(designKeys(3));
    await cdn.flush();
    await cdn.close();
    expect(await rows()).toEqual([]);
    expect(server.requests).toEqual([]);
    expect(await backlog()).toBeUndefined();
  });

  it('a path recorded again while its request is in flight survives that request and is due again', async () => {
    const outbox = new InvalidationOutbox(database.db);
    const now = Date.now();
    await outbox.record(['/designs/a/preview.png', '/designs/b/preview.png'], now);
    const claim = await outbox.claim(now, now + 60_000);
    expect(claim.paths.map((p) => p.path).sort()).toEqual(['/designs/a/preview.png', '/designs/b/preview.png']);
    // Claimed: a second claim finds nothing.
    expect((await outbox.claim(now, now + 60_000)).paths).toEqual([]);
    await outbox.record(['/designs/a/preview.png'], now);
    await outbox.complete(claim, now + 5);
    const left = await rows();
    expect(left).toEqual([expect.objectContaining({ path: '/designs/a/preview.png', next_attempt_at: now + 5, attempts: 0 })]);
  });
});

describe('the CloudFront contract server', () => {
  let server: CloudFrontContractServer;
  beforeEach(async () => {
    server = await startCloudFrontContractServer();
  });
  afterEach(async () => {
    await server.close();
  });

  const batch = (paths: string[], reference: string = randomUUID(), quantity = paths.length) =>
    '<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">' +
    `<Paths><Quantity>${quantity}</Quantity><Items>${paths.map((p) => `<Path>${p}</Path>`).join('')}</Items></Paths>` +
    `<CallerReference>${reference}</CallerReference></InvalidationBatch>`;

  /** A request signed as the SDK signs it; `tamper` changes it after signing. */
  async function send(body: string, options: { secret?: string; signingDate?: Date; tamper?: (request: { headers: Record<string, string>; body: string }) => void; path?: string } = {}) {
    const url = new URL(options.path ?? `/2020-05-31/distribution/${server.distributionId}/invalidation`, server.endpoint);
    const signer = new SignatureV4({
      service: 'cloudfront', region: 'us-east-1', sha256: NodeSha256,
      credentials: { accessKeyId: server.credentials.accessKeyId, secretAccessKey: options.secret ?? server.credentials.secretAccessKey },
    });
    const signed = await signer.sign(
      { method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {}, headers: { host: url.host, 'content-type': 'application/xml' }, body },
      options.signingDate ? { signingDate: options.signingDate } : {},
    );
    const request = { headers: { ...(signed.headers as Record<string, string>) }, body };
    options.tamper?.(request);
    delete request.headers.host;
    const response = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
    return { status: response.status, text: await response.text() };
  }

  it('accepts a correctly signed, well-formed batch with 201, a Location and the batch echoed', async () => {
    const reply = await send(batch(['/designs/a/preview.png', '/designs/b/*'], 'ref-1'));
    expect(reply.status).toBe(201);
    expect(reply.text).toMatch(/<Status>InProgress<\/Status>.*<Quantity>2<\/Quantity>.*<CallerReference>ref-1<\/CallerReference>/s);
    expect(server.invalidations).toEqual([expect.objectContaining({ callerReference: 'ref-1', paths: ['/designs/a/preview.png', '/designs/b/*'] })]);
  });

  it.each([
    ['a wrong secret', { secret: 'wrong' }, 403, 'SignatureDoesNotMatch'],
    ['a body changed after signing', { tamper: (r: { body: string }) => { r.body = r.body.replace('/designs/a', '/designs/z'); } }, 400, 'XAmzContentSHA256Mismatch'],
    ['a body changed with its hash header', {
      tamper: (r: { headers: Record<string, string>; body: string }) => {
        r.body = r.body.replace('/designs/a', '/designs/z');
        r.headers['x-amz-content-sha256'] = createHash('sha256').update(r.body).digest('hex');
      },
    }, 403, 'SignatureDoesNotMatch'],
    ['a signed header changed', { tamper: (r: { headers: Record<string, string> }) => { r.headers['content-type'] = 'text/plain'; } }, 403, 'SignatureDoesNotMatch'],
    ['a signature 10 minutes old', { signingDate: new Date(Date.now() - 10 * 60_000) }, 403, 'RequestExpired'],
    ['no Authorization header', { tamper: (r: { headers: Record<string, string> }) => { delete r.headers.authorization; } }, 403, 'MissingAuthenticationToken'],
    ['another access key', { tamper: (r: { headers: Record<string, string> }) => { r.headers.authorization = r.headers.authorization!.replace(/Credential=[^/]+/, 'Credential=AKIAOTHER'); } }, 403, 'InvalidClientTokenId'],
  ])('refuses %s', async (_what, options, status, code) => {
    const reply = await send(batch(['/designs/a/preview.png']), options);
    expect(reply.status).toBe(status);
    expect(reply.text).toContain(`<Code>${code}</Code>`);
    expect(server.invalidations).toEqual([]);
  });

  it.each([
    ['a Quantity that is not the number of Items', batch(['/a', '/b'], undefined, 3), 400, 'InconsistentQuantities'],
    ['a path without a leading slash', batch(['designs/a.png']), 400, 'InvalidArgument'],
    ['a * before the end', batch(['/designs/*/a.png']), 400, 'InvalidArgument'],
    ['no paths', batch([]), 400, 'InvalidArgument'],
    ['16 wildcard paths', batch(Array.from({ length: 16 }, (_, i) => `/designs/${i}/*`)), 400, 'TooManyInvalidationsInProgress'],
    ['3001 paths', batch(Array.from({ length: 3001 }, (_, i) => `/designs/${i}.png`)), 413, 'BatchTooLarge'],
    ['a document that is not an InvalidationBatch', '<Other/>', 400, 'MalformedInput'],
  ])('refuses %s', async (_what, body, status, code) => {
    const reply = await send(body);
    expect(reply.status).toBe(status);
    expect(reply.text).toContain(`<Code>${code}</Code>`);
  });

  it('refuses a reused CallerReference, another distribution, and answers injected failures', async () => {
    expect((await send(batch(['/a'], 'same'))).status).toBe(201);
    expect((await send(batch(['/b'], 'same'))).text).toContain('<Code>InvalidationBatchAlreadyExists</Code>');
    expect((await send(batch(['/a']), { path: '/2020-05-31/distribution/EOTHER/invalidation' })).text).toContain('<Code>NoSuchDistribution</Code>');
    server.failNext(1, 500);
    expect((await send(batch(['/a']))).status).toBe(500);
    expect((await send(batch(['/a']))).status).toBe(201);
  });
});
