import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DesignView } from '../../src/designs/design-service.js';
import { startTestServer, TEST_JWT_SECRET, tokenFor, type TestServer } from '../helpers/app.js';
import { spawnCustomify } from '../helpers/services.js';
import { createTempDir, removeTempDir, snapshotTree } from '../helpers/tmp.js';
import { ApiClient, DESIGN_BODY, expectLocalAssets, expectValidPng, rawHttp, runPool, Timings, waitUntilSettled, walkFiles } from './harness.js';
import { captureCli } from '../helpers/cli.js';

/**
 * C. Bad input over the whole surface, table-driven: the HTTP API (over real sockets, the
 * whole table several times over, concurrently) and the `customify` command line. Each bad
 * input gets its 4xx and stable code (exit code 1 or 2 and one line for the CLI); hostile but
 * valid text (markup, entities, emoji, right-to-left, bidi overrides) is ACCEPTED, stored
 * verbatim and PUBLISHED. Afterwards the server still answers /healthz, a normal design
 * still publishes, and nothing was written outside the storage root (the folder around it is
 * snapshotted before and after). test/integration/http-bad-input.test.ts and auth.test.ts
 * check each input's answer in detail through app.inject; this suite checks that the
 * running service survives all of it together.
 */

const SENTINEL = 'SENTINEL-outside-the-storage-root-41d2';
const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nestedObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const nestedArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const withText = (text: unknown) => JSON.stringify({ product_type: 't-shirt', design_data: { text, font: 'Bebas-Bold', color: '#FF0000' } });

interface HttpCase {
  name: string;
  method: string;
  /** Sent exactly as written (no client-side normalisation). `{own}` / `{other}`: a design of user A / user B. */
  path: string;
  /** Raw body; sent with Content-Type: application/json unless `contentType` says otherwise. */
  body?: string;
  contentType?: string;
  /** Which Authorization header: user A's valid token (default), none, or a bad one. */
  auth?: 'a' | 'none' | 'forged' | 'expired' | 'alg-none' | 'garbage';
  status: number;
  code: string;
}

/** Hostile but valid texts: accepted, stored verbatim, rendered. */
const ACCEPTED_TEXTS: Array<[string, string]> = [
  ['Pango markup', '<span foreground="red" size="99999999">BIG</span>'],
  ['closing tag', '</b></span></markup>'],
  ['entities', '&amp; &lt;b&gt; &#x41; &#0; &bogus;'],
  ['format strings and templates', '%s %n %x {{7*7}} ${7*7} `id`'],
  ['emoji with skin tones and ZWJ families', '😀🎉 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈'],
  ['Arabic (right to left)', 'مرحبا بالعالم'],
  ['Hebrew with numbers (bidi)', 'שלום 123 עולם'],
  ['right-to-left override', '\u202Eevil.exe\u202C txt'],
  ['combining marks (zalgo)', 'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗͕'],
  ['CJK and Devanagari', '你好世界 नमस्ते'],
  ['ten lines (the maximum)', Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n')],
  ['quotes and backslashes', `'"\\" \\n \\u0000 '; DROP TABLE designs; --`],
];

function httpCases(): HttpCase[] {
  const traversalIds = ['..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fsecret.txt', '..;', '%00', 'x'.repeat(36), `${randomUUID()}%00`, "1'%20OR%20'1'='1"];
  const cases: HttpCase[] = [];
  for (const id of traversalIds) {
    cases.push({ name: `GET bad id ${id.slice(0, 40)}`, method: 'GET', path: `/api/v1/designs/${id}`, status: 400, code: 'INVALID_DESIGN_ID' });
    cases.push({ name: `DELETE bad id ${id.slice(0, 40)}`, method: 'DELETE', path: `/api/v1/designs/${id}`, status: 400, code: 'INVALID_DESIGN_ID' });
    cases.push({ name: `render bad id ${id.slice(0, 40)}`, method: 'POST', path: `/api/v1/designs/${id}/render`, status: 400, code: 'INVALID_DESIGN_ID' });
  }
  cases.push(
    { name: 'unnormalised ../ in the API path', method: 'GET', path: '/api/v1/designs/../../../etc/passwd', status: 404, code: 'ROUTE_NOT_FOUND' },
    { name: 'bad percent-encoding in an id', method: 'GET', path: '/api/v1/designs/%ZZ', status: 400, code: 'INVALID_URL' },
    { name: 'very long id', method: 'GET', path: `/api/v1/designs/${'a'.repeat(2000)}`, status: 414, code: 'URI_TOO_LONG' },
    { name: "other user's design: GET", method: 'GET', path: '/api/v1/designs/{other}', status: 404, code: 'DESIGN_NOT_FOUND' },
    { name: "other user's design: DELETE", method: 'DELETE', path: '/api/v1/designs/{other}', status: 404, code: 'DESIGN_NOT_FOUND' },
    { name: "other user's design: re-render", method: 'POST', path: '/api/v1/designs/{other}/render', status: 404, code: 'DESIGN_NOT_FOUND' },
    { name: 'no token', method: 'GET', path: '/api/v1/designs/{own}', auth: 'none', status: 401, code: 'UNAUTHORIZED' },
    { name: 'forged token (other secret)', method: 'GET', path: '/api/v1/designs/{own}', auth: 'forged', status: 401, code: 'UNAUTHORIZED' },
    { name: 'expired token', method: 'POST', path: '/api/v1/designs', body: withText('expired'), auth: 'expired', status: 401, code: 'UNAUTHORIZED' },
    { name: 'alg: none token', method: 'DELETE', path: '/api/v1/designs/{own}', auth: 'alg-none', status: 401, code: 'UNAUTHORIZED' },
    { name: 'garbage token', method: 'GET', path: '/api/v1/designs', auth: 'garbage', status: 401, code: 'UNAUTHORIZED' },
    { name: 'unauthenticated oversized body', method: 'POST', path: '/api/v1/designs', body: withText('x'.repeat(70_000)), auth: 'none', status: 401, code: 'UNAUTHORIZED' },
    { name: 'invalid JSON', method: 'POST', path: '/api/v1/designs', body: '{"product_type": "t-shirt", "design_data": {', status: 400, code: 'INVALID_JSON' },
    { name: 'JSON with a __proto__ key', method: 'POST', path: '/api/v1/designs', body: '{"__proto__": {"admin": true}}', status: 400, code: 'INVALID_JSON' },
    { name: 'body over 64 KB', method: 'POST', path: '/api/v1/designs', body: withText('x'.repeat(70_000)), status: 413, code: 'PAYLOAD_TOO_LARGE' },
    { name: '10,000-level nested object body', method: 'POST', path: '/api/v1/designs', body: nestedObject(10_000), status: 400, code: 'FIELD_REQUIRED' },
    { name: '10,000-level nested array as text', method: 'POST', path: '/api/v1/designs', body: withText('PLACEHOLDER').replace('"PLACEHOLDER"', nestedArray(10_000)), status: 400, code: 'INVALID_TYPE' },
    { name: '40,000-level nesting (over 64 KB)', method: 'POST', path: '/api/v1/designs', body: nestedArray(40_000), status: 413, code: 'PAYLOAD_TOO_LARGE' },
    { name: 'text of 201 characters', method: 'POST', path: '/api/v1/designs', body: withText('x'.repeat(201)), status: 400, code: 'TEXT_TOO_LONG' },
    { name: 'text of 60,000 characters', method: 'POST', path: '/api/v1/designs', body: withText('x'.repeat(60_000)), status: 400, code: 'TEXT_TOO_LONG' },
    { name: 'text of 10,000 lines', method: 'POST', path: '/api/v1/designs', body: withText('a\n'.repeat(10_000)), status: 400, code: 'TEXT_TOO_LONG' },
    { name: 'text of 100 lines within 200 characters', method: 'POST', path: '/api/v1/designs', body: withText('a\n'.repeat(100)), status: 400, code: 'TOO_MANY_LINES' },
    { name: 'text with NUL', method: 'POST', path: '/api/v1/designs', body: withText('nul\u0000byte'), status: 400, code: 'INVALID_TEXT' },
    { name: 'text with a lone surrogate', method: 'POST', path: '/api/v1/designs', body: '{"product_type":"t-shirt","design_data":{"text":"a\\ud800b","font":"Bebas-Bold","color":"#FF0000"}}', status: 400, code: 'INVALID_TEXT' },
    { name: 'unknown font', method: 'POST', path: '/api/v1/designs', body: JSON.stringify(DESIGN_BODY('x', { font: 'Comic-Sans' })), status: 400, code: 'UNKNOWN_FONT' },
    { name: 'font as a path', method: 'POST', path: '/api/v1/designs', body: JSON.stringify(DESIGN_BODY('x', { font: '../../../../usr/share/fonts/evil.ttf' })), status: 400, code: 'UNKNOWN_FONT' },
    { name: 'unknown product type', method: 'POST', path: '/api/v1/designs', body: JSON.stringify({ ...DESIGN_BODY('x'), product_type: 'spaceship' }), status: 400, code: 'UNKNOWN_PRODUCT_TYPE' },
    { name: 'product type as a path', method: 'POST', path: '/api/v1/designs', body: JSON.stringify({ ...DESIGN_BODY('x'), product_type: '../t-shirt' }), status: 400, code: 'UNKNOWN_PRODUCT_TYPE' },
    { name: 'colour with injection', method: 'POST', path: '/api/v1/designs', body: JSON.stringify(DESIGN_BODY('x', { color: '#FF0000"/><script>' })), status: 400, code: 'INVALID_COLOR' },
    { name: 'mass assignment of status', method: 'POST', path: '/api/v1/designs', body: JSON.stringify({ ...DESIGN_BODY('x'), status: 'PUBLISHED' }), status: 400, code: 'UNKNOWN_FIELD' },
    { name: 'text/plain body', method: 'POST', path: '/api/v1/designs', body: JSON.stringify(DESIGN_BODY('x')), contentType: 'text/plain', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'list with an injected limit', method: 'GET', path: "/api/v1/designs?limit=1;DROP%20TABLE%20designs", status: 400, code: 'INVALID_LIMIT' },
    { name: 'list with a forged cursor', method: 'GET', path: `/api/v1/designs?cursor=${Buffer.from('1:../../etc/passwd').toString('base64url')}`, status: 400, code: 'INVALID_CURSOR' },
    { name: 'unknown method on a design', method: 'PUT', path: '/api/v1/designs/{own}', body: JSON.stringify(DESIGN_BODY('x')), status: 405, code: 'METHOD_NOT_ALLOWED' },
  );
  const staticPaths = [
    '/static/../secret.txt', '/static/..%2fsecret.txt', '/static/%2e%2e/secret.txt', '/static/%2e%2e/%2e%2e/etc/passwd',
    '/static/designs/..%2f..%2f..%2fsecret.txt', '/static/..\\secret.txt', '/static/designs\\..\\..\\secret.txt',
    '/static/.meta/designs/{own}/preview.png.json', '/static/designs/{own}/.preview.png.meta.json', '/static/designs/{own}/', '/static/designs/{own}/.preview.png.tmp',
    '/static/designs/{own}/preview.png%00.txt', '/static//etc/passwd', '/static/designs/{own}/preview.png/..',
  ];
  for (const p of staticPaths) cases.push({ name: `static ${p}`, method: 'GET', path: p, auth: 'none', status: 404, code: 'FILE_NOT_FOUND' });
  return cases;
}

/** What came back: status and error code (of a JSON error body), or the raw body head. */
async function send(server: TestServer, c: HttpCase, headers: Record<string, string>, ids: { own: string; other: string }): Promise<{ status: number; code: string }> {
  const target = c.path.replaceAll('{own}', ids.own).replaceAll('{other}', ids.other);
  const res = await rawHttp(server.url, c.method, target, { ...headers, ...(c.body === undefined ? {} : { 'content-type': c.contentType ?? 'application/json' }) }, c.body);
  return { status: res.status, code: codeOf(res.body) };
}

function codeOf(text: string): string {
  try {
    return (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? `no error code: ${text.slice(0, 80)}`;
  } catch {
    return `not JSON: ${text.slice(0, 80)}`;
  }
}

describe('C. bad input over HTTP: every answer a 4xx with its code; the server keeps serving; nothing written outside the storage root', () => {
  let server: TestServer;
  let outer: string;
  let root: string;
  let before: Record<string, string>;
  let a: ApiClient;
  let b: ApiClient;
  let own: DesignView;
  let other: DesignView;
  const headersFor: Record<NonNullable<HttpCase['auth']>, Record<string, string>> = { a: {}, none: {}, forged: {}, expired: {}, 'alg-none': {}, garbage: {} };

  beforeAll(async () => {
    outer = await createTempDir('rel-bad-input');
    root = path.join(outer, 'storage');
    await mkdir(root);
    // Sentinels beside the root, named like things a traversal would aim at.
    await writeFile(path.join(outer, 'secret.txt'), SENTINEL);
    await writeFile(path.join(outer, 'storage.json'), SENTINEL);
    server = await startTestServer({ LOCAL_STORAGE_PATH: root, RENDER_CONCURRENCY: '2' });
    const tokenA = await tokenFor('bad-input-a');
    a = new ApiClient(server.url, tokenA);
    b = new ApiClient(server.url, await tokenFor('bad-input-b'));
    own = (await a.create(DESIGN_BODY('own design'))).body;
    other = (await b.create(DESIGN_BODY('other user design'))).body;
    await waitUntilSettled(server.container.designs, [own.id, other.id], 30_000);
    const sign = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
    headersFor.a = { authorization: `Bearer ${tokenA}` };
    headersFor.forged = { authorization: `Bearer ${await sign({ sub: 'bad-input-a', exp: now() + 3600 }, 'a-forger-secret-that-is-long-enough-0000000')}` };
    headersFor.expired = { authorization: `Bearer ${await sign({ sub: 'bad-input-a', iat: now() - 7200, exp: now() - 60 })}` };
    headersFor['alg-none'] = { authorization: `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'bad-input-a', exp: now() + 3600 })}.` };
    headersFor.garbage = { authorization: `Bearer ${'x'.repeat(4000)}.y.z` };
    before = await snapshotTree(outer);
  });
  afterAll(async () => {
    await server?.stop();
    if (outer) await removeTempDir(outer);
  });

  it('answers the whole table, three times over with 16 concurrent clients, each case with its status and code', async () => {
    const t = new Timings('C1 bad input over HTTP');
    const cases = httpCases();
    const runs = [...cases, ...cases, ...cases];
    const answers = await runPool(runs, 16, (c) => send(server, c, headersFor[c.auth ?? 'a'], { own: own.id, other: other.id }));
    const wrong = runs
      .map((c, i) => ({ name: c.name, expected: `${c.status} ${c.code}`, got: `${answers[i]!.status} ${answers[i]!.code}` }))
      .filter((r) => r.expected !== r.got);
    expect(wrong).toEqual([]);
    t.mark(`${runs.length} requests`);
    // The other user's design was neither deleted nor re-rendered; user A's survived the alg-none DELETE.
    expect((await b.get(other.id)).body).toMatchObject({ status: 'PUBLISHED', attempts: 1 });
    expect((await a.get(own.id)).body.status).toBe('PUBLISHED');
    t.report(`${cases.length} cases`);
  });

  it.each(ACCEPTED_TEXTS)('accepts, stores verbatim and publishes: %s', async (_name, text) => {
    const created = await a.create(DESIGN_BODY(text));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.design_data.text).toBe(text);
    const [design] = await waitUntilSettled(server.container.designs, [created.body.id], 30_000);
    expect(design!.status, design!.error ?? '').toBe('PUBLISHED');
    expect(design!.designData.text).toBe(text);
    const view = await a.get(created.body.id);
    expect(view.body.design_data.text).toBe(text);
    const image = await fetch(view.body.preview_url!);
    expect(image.status).toBe(200);
    await expectValidPng(Buffer.from(await image.arrayBuffer()), 'preview', _name);
  });

  it('afterwards: /healthz and /readyz answer, a normal design publishes, and nothing outside the root changed', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const normal = await a.create(DESIGN_BODY('Test Design'));
    expect(normal.status).toBe(201);
    const [design] = await waitUntilSettled(server.container.designs, [normal.body.id], 30_000);
    expect(design!.status).toBe('PUBLISHED');
    await expectLocalAssets(root, [normal.body.id]);

    const after = await snapshotTree(outer);
    const outside = (snapshot: Record<string, string>) => Object.fromEntries(Object.entries(snapshot).filter(([p]) => p !== 'storage' && !p.startsWith(`storage${path.sep}`)));
    expect(outside(after)).toEqual(outside(before));
    expect(await readFile(path.join(outer, 'secret.txt'), 'utf8')).toBe(SENTINEL);
    // Inside the root: only the assets of real designs and their metadata.
    const unexpected = (await walkFiles(root)).filter((f) => !/^designs\/[0-9a-f-]{36}\/[0-9a-z]{12,}\/\.?(preview|thumbnail)\.png(\.meta\.json)?$/.test(f));
    expect(unexpected).toEqual([]);
  });
});

describe('C. bad input to the `customify` command line', () => {
  let dir: string;
  let outer: string;
  let before: Record<string, string>;
  let main: (argv: string[], print?: (line: string) => void) => Promise<number>;

  beforeAll(async () => {
    dir = await createTempDir('rel-cli-bad-input');
    outer = path.join(dir, 'outer');
    await mkdir(path.join(outer, 'storage', 'designs'), { recursive: true });
    await writeFile(path.join(outer, 'secret.txt'), SENTINEL);
    await writeFile(path.join(dir, 'a-file'), 'not a folder');
    const env: Record<string, string> = {
      NODE_ENV: 'development', USE_LOCAL_STORAGE: 'true', LOCAL_STORAGE_PATH: path.join(outer, 'storage'),
      DATABASE_URL: `sqlite:${path.join(dir, 'db', 'customify.db')}`, DATA_DIR: path.join(dir, 'data'), REDIS_URL: '',
      JWT_SECRET: TEST_JWT_SECRET, JWKS_URL: '', CLOUDFRONT_DOMAIN: '', S3_ENDPOINT: '', LOG_LEVEL: 'silent',
    };
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    vi.resetModules();
    ({ main } = await import('../../src/cli.js'));
    before = await snapshotTree(outer);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    if (dir) await removeTempDir(dir);
  });

  const customify = (args: string[]) => captureCli(main, args);


  const out = (name: string) => path.join(dir, 'cli-out', name);
  const REFUSED: Array<[string, () => string[], number, RegExp]> = [
    ['no command', () => [], 2, /^$/],
    ['unknown command', () => ['../../bin/sh'], 2, /^Unknown command "..\/..\/bin\/sh"/],
    ['unknown option', () => ['render', '--text', 'x', '--out', out('u'), '--evil'], 2, /Unknown option '--evil'/],
    ['option without its value', () => ['render', '--text'], 2, /argument missing/],
    ['positional argument', () => ['token', '--user', 'a', 'rm -rf /'], 2, /Unexpected argument/],
    ['font as a path', () => ['render', '--text', 'x', '--font', '../../../../etc/passwd', '--out', out('font')], 1, /UNKNOWN_FONT|Unknown font/],
    ['product type as a path', () => ['render', '--text', 'x', '--product-type', '../t-shirt', '--out', out('pt')], 1, /Unknown product_type/],
    ['colour with shell injection', () => ['render', '--text', 'x', '--color', '#FFF; rm -rf /', '--out', out('color')], 1, /design_data\.color.*--color/],
    ['text of 100,000 characters', () => ['render', '--text', 'x'.repeat(100_000), '--out', out('long')], 1, /at most 200 characters/],
    ['text of 10,000 lines', () => ['render', '--text', 'a\n'.repeat(10_000), '--out', out('lines')], 1, /at most 200 characters/],
    ['text of 100 short lines', () => ['render', '--text', 'a\n'.repeat(100), '--out', out('lines2')], 1, /at most 10 lines/],
    ['text with NUL', () => ['render', '--text', 'nul\u0000byte', '--out', out('nul')], 1, /control character U\+0000/],
    ['--out is a file', () => ['render', '--text', 'x', '--out', path.join(dir, 'a-file')], 1, /is not a folder that can be created/],
    ['--out under a file', () => ['render', '--text', 'x', '--out', path.join(dir, 'a-file', 'sub')], 1, /is not a folder that can be created/],
    ['token with an empty user', () => ['token', '--user', '   '], 1, /--user/],
    ['token with a negative ttl (looks like an option)', () => ['token', '--user', 'a', '--ttl', '-5'], 2, /argument is ambiguous/],
    ['token with a negative ttl', () => ['token', '--user', 'a', '--ttl=-5'], 1, /--ttl must be a positive duration/],
    ['token with a ttl that is code', () => ['token', '--user', 'a', '--ttl', '$(reboot)'], 1, /--ttl must be a positive duration/],
    ['cleanup with a bad age', () => ['cleanup', '--older-than', 'yesterday'], 1, /--older-than/],
    ['cleanup with a traversal prefix', () => ['cleanup', '--older-than', '1d', '--prefix', '../../'], 1, /--prefix|Invalid storage key/],
    ['cleanup with an absolute prefix', () => ['cleanup', '--older-than', '1d', '--prefix', '/etc/'], 1, /--prefix|Invalid storage key/],
    ['cleanup with a dot-folder prefix', () => ['cleanup', '--older-than', '1d', '--prefix', '.meta/'], 1, /--prefix|Invalid storage key/],
  ];

  it.each(REFUSED)('refuses %s (one line saying why), writing nothing', async (_name, args, exitCode, message) => {
    const res = await customify(args());
    expect(res.code).toBe(exitCode);
    expect(res.err.join('\n')).toMatch(message);
    if (exitCode === 1) expect(res.err).toHaveLength(1);
    expect(res.err.join('\n')).not.toMatch(/\n\s+at .*\.(ts|js):\d+/);
  });

  it.each(ACCEPTED_TEXTS)('renders hostile but valid text: %s', async (name, text) => {
    const folder = out(`ok-${ACCEPTED_TEXTS.findIndex(([n]) => n === name)}`);
    const res = await customify(['render', '--text', text, '--out', folder]);
    expect(res.code, res.err.join('\n')).toBe(0);
    expect(res.out.slice(0, 2)).toEqual([path.join(folder, 'preview.png'), path.join(folder, 'thumbnail.png')]);
    expect(res.out).toHaveLength(8);
    await expectValidPng(await readFile(path.join(folder, 'preview.png')), 'preview', name);
    await expectValidPng(await readFile(path.join(folder, 'thumbnail.png')), 'thumbnail', name);
  });

  it('as a real process: exit codes and one-line errors (the bin, through tsx)', { timeout: 60_000 }, async () => {
    const env = { LOCAL_STORAGE_PATH: path.join(outer, 'storage'), DATA_DIR: path.join(dir, 'data'), JWT_SECRET: TEST_JWT_SECRET };
    const unknown = spawnCustomify(['nope'], env);
    expect((await unknown.exited).code).toBe(2);
    expect(unknown.output()).toMatch(/^Unknown command "nope"/);
    const font = spawnCustomify(['render', '--text', 'x', '--font', '../../etc/passwd', '--out', out('proc')], env);
    expect((await font.exited).code).toBe(1);
    expect(font.output().trim().split('\n')).toHaveLength(1);
    expect(font.output()).toMatch(/^customify render: design_data\.font: Unknown font "\.\.\/\.\.\/etc\/passwd"\. Available fonts: .*\(set with --font\)$/m);
  });

  it('wrote nothing outside --out: the storage root and the folder around it are unchanged', async () => {
    expect(await snapshotTree(outer)).toEqual(before);
    const written = (await walkFiles(dir)).filter((f) => !f.startsWith('outer/') && !f.startsWith('data/') && f !== 'a-file');
    expect(written.every((f) => /^cli-out\/ok-\d+\/(preview|thumbnail|small|large)\.(png|webp)$/.test(f)), written.join(', ')).toBe(true);
  });
});
