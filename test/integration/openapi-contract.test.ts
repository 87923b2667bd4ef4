import { BaseResolver, createConfig, lintDocument, makeDocumentFromString } from '@redocly/openapi-core';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { designSpecJsonSchema, normalizeLineBreaks } from '../../src/rendering/index.js';
import { authHeaders, createTestApp, type TestApp } from '../helpers/app.js';
import { designBodyArb } from '../helpers/design-arbitraries.js';

/**
 * The OpenAPI document at /docs/json is a contract: a client generated from it, or a fuzzer
 * driven by it, must find the server doing what it says. These tests read the document the
 * server serves, lint it, and send requests generated from it.
 */

interface Operation {
  operationId?: string;
  security?: unknown[];
  parameters?: Array<{ in: string; name: string; schema: Record<string, unknown> }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, unknown> }> }>;
}
interface OpenApiDocument {
  info: { license?: { name: string } };
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
}

// Formats (date-time, uuid) are not what these tests are about; the patterns and types are.
const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, strict: false, validateFormats: false });

describe('the served OpenAPI document', () => {
  let t: TestApp;
  let doc: OpenApiDocument;
  let raw: string;
  let headers: Record<string, string>;

  beforeAll(async () => {
    t = await createTestApp({ background: false });
    headers = await authHeaders('openapi-contract');
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    raw = res.body;
    doc = res.json();
  });
  afterAll(async () => {
    await t?.close();
  });

  const operations = () => Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
  const operation = (path: string, method: string) => doc.paths[path]![method]!;

  it("passes Redocly's recommended rules with no error and no warning", async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const document = makeDocumentFromString(raw, '/docs/json');
    const problems = await lintDocument({ document, config, externalRefResolver: new BaseResolver() });
    const shown = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);
    expect(shown).toEqual([]);
  });

  it('names every operation, says which need no token, has a licence and a relative server', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect(doc.info.license?.name).toBeTruthy();
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0), JSON.stringify(ids)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(operation(path, 'get').security, path).toEqual([]);
    for (const { path, op } of operations().filter(({ path }) => path.startsWith('/api/'))) {
      expect(op.security, path).toEqual([{ bearerAuth: [] }]);
    }
  });

  it('documents every error status the server answers, each with the error body schema', () => {
    const expected: Array<[string, string, string[]]> = [
      ['/api/v1/designs', 'post', ['400', '401', '405', '408', '413', '414', '415', '431', '500', '503'].filter((s) => s !== '414')],
      ['/api/v1/designs', 'get', ['400', '401', '405', '408', '431', '500', '503']],
      ['/api/v1/designs/batch', 'post', ['400', '401', '405', '408', '413', '415', '431', '500', '503']],
      ['/api/v1/designs/{id}', 'get', ['400', '401', '404', '405', '408', '414', '431', '500', '503']],
      ['/api/v1/designs/{id}', 'delete', ['400', '401', '404', '405', '408', '413', '414', '415', '431', '500', '503']],
      ['/api/v1/designs/{id}/render', 'post', ['400', '401', '404', '405', '408', '409', '413', '414', '415', '431', '500', '503']],
      ['/healthz', 'get', ['400', '405', '408', '431', '500']],
      ['/metrics', 'get', ['400', '405', '408', '431', '500']],
    ];
    for (const [path, method, statuses] of expected) {
      const responses = operation(path, method).responses;
      for (const status of statuses) {
        const schema = responses[status]?.content?.['application/json']?.schema;
        expect(schema, `${method} ${path} ${status}`).toMatchObject({
          required: ['error'],
          properties: { error: { required: ['code', 'message'], properties: { code: { type: 'string' }, field: { type: 'string' } } } },
        });
        expect(responses[status]!.description.length, `${method} ${path} ${status}`).toBeGreaterThan(10);
      }
    }
  });

  it('publishes as the design body the schema generated from the domain definition, with the design\'s watermark flag', () => {
    const served = operation('/api/v1/designs', 'post').requestBody!.content['application/json']!.schema as { properties: Record<string, unknown> };
    const { watermark, ...designFields } = served.properties;
    expect({ ...served, properties: designFields }).toEqual(designSpecJsonSchema());
    expect(watermark).toMatchObject({ type: 'boolean' });
    // The batch takes the same bodies, 1 to 100 of them.
    const batch = operation('/api/v1/designs/batch', 'post').requestBody!.content['application/json']!.schema as { properties: { designs: Record<string, unknown> } };
    expect(batch.properties.designs).toMatchObject({ type: 'array', minItems: 1, maxItems: 100 });
    expect(batch.properties.designs.items).toEqual(served);
  });

  it('POST /api/v1/designs: every generated body the served schema accepts is created (201), every other one is 400 with the documented body', async () => {
    const op = operation('/api/v1/designs', 'post');
    const accepts = ajv.compile(op.requestBody!.content['application/json']!.schema);
    const created = ajv.compile(op.responses['201']!.content!['application/json']!.schema);
    const refused = ajv.compile(op.responses['400']!.content!['application/json']!.schema);
    const noSuchUpload = ajv.compile(op.responses['404']!.content!['application/json']!.schema);
    let valid = 0;
    await fc.assert(
      fc.asyncProperty(designBodyArb, async (body) => {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/designs', headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
        if (accepts(body) && (body as { design_data: { image?: unknown } }).design_data.image !== undefined) {
          // A well-formed image, but this user has no uploads: the documented 404 naming the field.
          valid += 1;
          expect(res.statusCode, `${JSON.stringify(body)} → ${res.body}`).toBe(404);
          expect(noSuchUpload(res.json()), JSON.stringify(noSuchUpload.errors)).toBe(true);
          expect(res.json().error).toMatchObject({ code: 'UPLOAD_NOT_FOUND', field: 'design_data.image.upload_id' });
        } else if (accepts(body)) {
          valid += 1;
          expect(res.statusCode, `${JSON.stringify(body)} → ${res.body}`).toBe(201);
          expect(created(res.json()), JSON.stringify(created.errors)).toBe(true);
          // Stored as sent, its line breaks written as \n (the text's description says so).
          const { design_data: data } = body as { design_data: { text: string } };
          expect(res.json().design_data).toEqual({ ...data, text: normalizeLineBreaks(data.text) });
        } else {
          expect(res.statusCode, `${JSON.stringify(body)} → ${res.body}`).toBe(400);
          expect(refused(res.json()), JSON.stringify(refused.errors)).toBe(true);
          expect(typeof res.json().error.field).toBe('string');
        }
      }),
      { numRuns: 200 },
    );
    expect(valid).toBeGreaterThan(20);
    expect(valid).toBeLessThan(180);
  });

  it('GET /api/v1/designs: limit and cursor values the served parameters accept are answered 200, others 400', async () => {
    const op = operation('/api/v1/designs', 'get');
    const parameter = (name: string) => op.parameters!.find((p) => p.in === 'query' && p.name === name)!.schema;
    const limitOk = ajv.compile(parameter('limit'));
    const cursorOk = ajv.compile(parameter('cursor'));
    const limitArb = fc.oneof(
      fc.integer({ min: -5, max: 150 }).map(String),
      fc.stringMatching(new RegExp(parameter('limit').pattern as string)),
      fc.constantFrom('', '01', '1.0', '1e2', ' 5', '100 ', '0x10'),
    );
    const cursorArb = fc.oneof(
      fc.stringMatching(new RegExp(parameter('cursor').pattern as string)),
      fc.constantFrom('0', 'bm9wZQ', '1_not-a-uuid', `${'9'.repeat(16)}_3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b`),
      fc.string({ maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.option(limitArb, { nil: undefined }), fc.option(cursorArb, { nil: undefined }), async (limit, cursor) => {
        const query = new URLSearchParams({ ...(limit === undefined ? {} : { limit }), ...(cursor === undefined ? {} : { cursor }) });
        const res = await t.app.inject({ method: 'GET', url: `/api/v1/designs?${query.toString()}`, headers });
        const valid = (limit === undefined || limitOk(limit)) && (cursor === undefined || cursorOk(cursor));
        expect(res.statusCode, `limit=${JSON.stringify(limit)} cursor=${JSON.stringify(cursor)}: ${res.body.slice(0, 200)}`).toBe(valid ? 200 : 400);
      }),
      { numRuns: 300 },
    );
  });
});
