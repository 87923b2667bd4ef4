import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/storage/index.js';
import { authHeaders, createTestApp, freePort, type TestApp } from '../helpers/app.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

/** The /readyz answer, as the tests read it. */
interface Readiness {
  status: string;
  failing?: string[];
  checks: Record<'database' | 'queue' | 'storage', { status: string; duration_ms: number; error?: string }>;
}

/** The parts of the OpenAPI document these tests read. */
interface OpenApiOperation {
  security?: unknown;
  requestBody: { content: { 'application/json': { schema: { additionalProperties?: unknown; properties: { design_data: { properties: { font: { enum: string[] } } } } } } } };
}
interface OpenApiDoc {
  openapi: string;
  info: { title: string };
  paths: {
    '/api/v1/designs': { post: OpenApiOperation };
    '/api/v1/designs/{id}': object;
    '/api/v1/designs/batch': object;
    '/api/v1/uploads': { post: { requestBody: { content: Record<string, unknown> } } };
    '/api/v1/uploads/{id}': object;
    '/api/v1/previews': { post: { responses: Record<string, { content?: Record<string, unknown> }> } };
  };
  components: { securitySchemes: { bearerAuth: unknown } };
}

describe('health, readiness, metrics and docs', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('/healthz answers 200 ok without auth', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz runs the real database, queue and storage checks', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    const body = res.json<Readiness>();
    expect(body.status).toBe('ok');
    expect(body.failing).toBeUndefined();
    expect(Object.keys(body.checks).sort()).toEqual(['database', 'queue', 'storage']);
    for (const check of Object.values(body.checks)) {
      expect(check.status).toBe('ok');
      expect(check.duration_ms).toBeGreaterThanOrEqual(0);
    }
  });

  it('/metrics counts uploads, renders, HTTP requests and errors by code', async () => {
    const created = await t.createDesign();
    await t.waitForStatus(created.id, 'PUBLISHED');
    await t.app.inject({
      method: 'POST', url: '/api/v1/designs', headers: await authHeaders(),
      payload: { product_type: 't-shirt', design_data: { text: 'x', font: 'Nope', color: '#000' } },
    });
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toMatch(/^customify_uploads_total\{kind="preview"\} [1-9]/m);
    expect(text).toMatch(/^customify_uploads_total\{kind="thumbnail"\} [1-9]/m);
    expect(text).toMatch(/^customify_renders_total\{outcome="published"\} [1-9]/m);
    expect(text).toMatch(/^customify_http_requests_total\{method="POST",route="\/api\/v1\/designs",status="201"\} [1-9]/m);
    expect(text).toMatch(/^customify_http_requests_total\{method="GET",route="\/api\/v1\/designs\/:id",status="200"\} [1-9]/m);
    expect(text).toMatch(/^customify_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/designs\/:id"\} [1-9]/m);
    expect(text).toMatch(/^customify_errors_total\{code="UNKNOWN_FONT"\} 1$/m);
    expect(text).toMatch(/^customify_render_queue_depth \d+/m);
    expect(text).toMatch(/^customify_print_queue_depth \d+/m);
    expect(text).toMatch(/^customify_upload_queue_depth \d+/m);
  });

  it('/metrics counts print jobs by outcome and times them', async () => {
    const created = await t.createDesign();
    await t.waitForStatus(created.id, 'PUBLISHED');
    const requested = await t.app.inject({ method: 'POST', url: `/api/v1/designs/${created.id}/print-files`, headers: await authHeaders() });
    expect(requested.statusCode).toBe(202);
    for (let i = 0; i < 300; i++) {
      const view = (await t.app.inject({ method: 'GET', url: `/api/v1/designs/${created.id}`, headers: await authHeaders() })).json<{ print_status: string }>();
      if (view.print_status !== 'PENDING') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/^customify_print_jobs_total\{outcome="ready"\} 1$/m);
    expect(text).toMatch(/^customify_print_duration_seconds_count\{outcome="ready"\} 1$/m);
    expect(text).not.toMatch(/^customify_print_jobs_total\{outcome="failed"\}/m);
  });

  it('labels unmatched routes as one value, not by URL', async () => {
    await t.app.inject({ method: 'GET', url: '/no/such/route/123' });
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/customify_http_requests_total\{method="GET",route="unmatched",status="404"\}/);
    expect(text).not.toContain('/no/such/route');
  });

  it('/docs serves the interactive docs from the package (no CDN)', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs' });
    const page = res.statusCode === 302 ? await t.app.inject({ method: 'GET', url: res.headers.location as string }) : res;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toMatch(/swagger-ui/i);
    expect(page.body).not.toMatch(/(src|href)="https?:\/\//);
    const asset = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(asset.statusCode).toBe(200);
  });

  it('/docs/json is an OpenAPI document listing every route, with bearer auth', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<OpenApiDoc>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Customify API');
    expect(Object.keys(doc.paths).sort()).toEqual(
      ['/api/v1/designs', '/api/v1/designs/batch', '/api/v1/designs/{id}', '/api/v1/designs/{id}/events', '/api/v1/designs/{id}/print-files', '/api/v1/designs/{id}/print-files/{name}', '/api/v1/designs/{id}/render', '/api/v1/events', '/api/v1/previews', '/api/v1/uploads', '/api/v1/uploads/tus', '/api/v1/uploads/tus/{id}', '/api/v1/uploads/{id}', '/api/v1/users/me/avatar', '/healthz', '/metrics', '/readyz'],
    );
    expect(Object.keys(doc.paths['/api/v1/uploads']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/v1/uploads/{id}']).sort()).toEqual(['delete', 'get']);
    expect(Object.keys(doc.paths['/api/v1/uploads'].post.requestBody.content).sort()).toEqual(['application/octet-stream', 'image/*', 'multipart/form-data']);
    expect(Object.keys(doc.paths['/api/v1/designs']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/v1/designs/{id}']).sort()).toEqual(['delete', 'get', 'patch']);
    expect(Object.keys(doc.paths['/api/v1/designs/batch'])).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/v1/previews'])).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/v1/previews'].post.responses['200']!.content!).sort()).toEqual(['image/png', 'image/webp']);
    expect(doc.paths['/api/v1/previews'].post.responses).toHaveProperty('429');
    expect(doc.paths['/api/v1/designs'].post.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const body = doc.paths['/api/v1/designs'].post.requestBody.content['application/json'].schema;
    expect(body.properties.design_data.properties.font.enum).toContain('Bebas-Bold');
    expect(body.additionalProperties).toBe(false);
  });
});

describe('readiness failures', () => {
  it('answers 503 naming storage when its check fails, the others still ok', async () => {
    const t = await createTestApp({
      background: false,
      checks: {
        storage: () => Promise.reject(new StorageError('STORAGE_ACCESS_DENIED', 'Access denied to bucket secret-internal-name')),
      },
    });
    try {
      const res = await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      const body = res.json<Readiness>();
      expect(body.status).toBe('unavailable');
      expect(body.failing).toEqual(['storage']);
      expect(body.checks.storage).toMatchObject({ status: 'failing', error: 'STORAGE_ACCESS_DENIED' });
      expect(body.checks.database.status).toBe('ok');
      expect(body.checks.queue.status).toBe('ok');
      expect(res.body).not.toContain('secret-internal-name');
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('the real storage check fails when LOCAL_STORAGE_PATH cannot be a folder', async () => {
    const elsewhere = await createTempDir('not-a-folder');
    const file = path.join(elsewhere, 'storage');
    await writeFile(file, 'I am a file');
    const t = await createTestApp({ background: false, env: { LOCAL_STORAGE_PATH: file } });
    try {
      const res = await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().failing).toEqual(['storage']);
      expect(res.json().checks.storage.error).toBe('CHECK_FAILED');
    } finally {
      await t.close();
      await removeTempDir(elsewhere);
    }
  });

  it('a check that hangs fails by timeout', async () => {
    const t = await createTestApp({ background: false, healthTimeoutMs: 100, checks: { queue: () => new Promise<void>(() => {}) } });
    try {
      const started = Date.now();
      const res = await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(res.statusCode).toBe(503);
      expect(res.json().failing).toEqual(['queue']);
      expect(res.json().checks.queue.error).toBe('TIMEOUT');
    } finally {
      await t.close();
    }
  });
});

describe('5xx answers hide internals', () => {
  it('a broken database gives 500 INTERNAL_ERROR with a generic message and a request id', async () => {
    const t = await createTestApp({ background: false });
    try {
      await t.container.db.destroy();
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/designs', headers: await authHeaders() });
      expect(res.statusCode).toBe(500);
      const { error } = res.json<{ error: { code: string; message: string; request_id?: string } }>();
      expect(error.code).toBe('INTERNAL_ERROR');
      expect(error.message).toMatch(/^Internal server error/);
      expect(error.request_id).toBe(res.headers['x-request-id']);
      expect(res.body).not.toMatch(/destroy|kysely|sqlite|DATABASE|\.ts:\d+|at /i);
      const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().failing).toContain('database');
      const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/^customify_errors_total\{code="INTERNAL_ERROR"\} 1$/m);
    } finally {
      await t.close();
    }
  });

  it('unreachable storage gives 503 with the retryable code, Retry-After and no endpoint details', async () => {
    const port = await freePort(); // nothing listens there
    const t = await createTestApp({
      background: false,
      env: {
        USE_LOCAL_STORAGE: 'false', S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_BUCKET_NAME: 'unreachable-bucket',
        AWS_ACCESS_KEY_ID: 'KEY', AWS_SECRET_ACCESS_KEY: 'SECRET',
      },
    });
    try {
      const created = await t.createDesign(); // creating touches no storage
      const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/designs/${created.id}`, headers: await authHeaders() });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json().error.code).toBe('STORAGE_UNAVAILABLE');
      expect(res.body).not.toMatch(new RegExp(`${port}|unreachable-bucket|ECONNREFUSED`));
      // The deletion is recorded (the design is gone for the API) and not finished: a retried
      // DELETE tries again to remove the files (503 until storage is back, then 204).
      const still = await t.app.inject({ method: 'GET', url: `/api/v1/designs/${created.id}`, headers: await authHeaders() });
      expect(still.statusCode).toBe(404);
      const retried = await t.app.inject({ method: 'DELETE', url: `/api/v1/designs/${created.id}`, headers: await authHeaders() });
      expect(retried.statusCode).toBe(503);
    } finally {
      await t.close();
    }
  });
});
