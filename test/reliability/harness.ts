import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import type { DesignRepository } from '../../src/designs/design-repository.js';
import type { Design } from '../../src/designs/design.js';
import type { DesignView } from '../../src/designs/design-service.js';
import type { Metrics } from '../../src/metrics.js';
import { sleep } from '../helpers/services.js';

/**
 * What the reliability scenarios share: an HTTP client for the real API, a bounded worker
 * pool, waiting until designs settle (read from the real database), PNG checks, file walks,
 * and timings for RELIABILITY.md.
 */

export const DESIGN_BODY = (text: string, extra: Record<string, unknown> = {}) => ({
  product_type: 't-shirt',
  design_data: { text, font: 'Bebas-Bold', color: '#FF0000', ...extra },
});

/** Runs `work` over `items` with at most `concurrency` at a time; results in input order. */
export async function runPool<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      results[index] = await work(items[index]!, index);
    }
  });
  await Promise.all(workers);
  return results;
}

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
}

/** The API over real HTTP as one user. Never throws for an HTTP status; a network error is status 0. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T = unknown>(method: string, pathname: string, body?: unknown, timeoutMs = 30_000): Promise<ApiAnswer<T>> {
    try {
      const res = await fetch(`${this.baseUrl}${pathname}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed as T };
    } catch (error) {
      return { status: 0, body: String(error) as T };
    }
  }

  create(body: unknown): Promise<ApiAnswer<DesignView>> {
    return this.request<DesignView>('POST', '/api/v1/designs', body);
  }

  get(id: string): Promise<ApiAnswer<DesignView>> {
    return this.request<DesignView>('GET', `/api/v1/designs/${id}`);
  }

  rerender(id: string): Promise<ApiAnswer<DesignView>> {
    return this.request<DesignView>('POST', `/api/v1/designs/${id}/render`);
  }
}

export type StatusCounts = Record<Design['status'], number>;

export function countStatuses(designs: readonly Design[]): StatusCounts {
  const counts: StatusCounts = { PENDING: 0, RENDERING: 0, PUBLISHED: 0, FAILED: 0 };
  for (const d of designs) counts[d.status]++;
  return counts;
}

/**
 * Waits until none of `ids` is PENDING or RENDERING (read from the database), or throws
 * after `timeoutMs` with the counts. Returns the settled designs.
 */
export async function waitUntilSettled(designs: Pick<DesignRepository, 'findByIds'>, ids: readonly string[], timeoutMs: number): Promise<Design[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let found: Design[] | undefined;
    try {
      found = await designs.findByIds(ids);
    } catch {
      found = undefined; // the database may be coming back: try again
    }
    if (found && found.length === ids.length && found.every((d) => d.status === 'PUBLISHED' || d.status === 'FAILED')) return found;
    if (Date.now() > deadline) {
      const counts = found ? JSON.stringify(countStatuses(found)) : 'database unreachable';
      throw new Error(`${ids.length} designs not settled after ${timeoutMs} ms: ${counts}, ${found ? ids.length - found.length : '?'} missing`);
    }
    await sleep(100);
  }
}

/** Decodes `bytes` completely (a truncated PNG fails here) and checks its size. */
export async function expectValidPng(bytes: Buffer, kind: 'preview' | 'thumbnail', label: string): Promise<void> {
  const { info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const meta = await sharp(bytes).metadata();
  if (meta.format !== 'png') throw new Error(`${label}: not a PNG (${meta.format})`);
  if (kind === 'preview' && (info.width !== 600 || info.height !== 600)) throw new Error(`${label}: preview is ${info.width}x${info.height}, not 600x600`);
  if (kind === 'thumbnail' && (info.width > 200 || info.height > 200 || Math.max(info.width, info.height) !== 200)) {
    throw new Error(`${label}: thumbnail is ${info.width}x${info.height}, not within 200x200 with a 200 side`);
  }
}

/** Every file under `dir` (relative paths), dot-files and dot-folders included; none when `dir` was never created. */
export async function walkFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const visit = async (current: string) => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await visit(full);
      else out.push(path.relative(dir, full));
    }
  };
  await visit(dir);
  return out.sort();
}

/** The value of a counter in a container's registry, for `labels` (0 when absent). */
export async function counterValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value));
  return match?.value ?? 0;
}

/** Wall-clock timings of a scenario's phases, printed for RELIABILITY.md. */
export class Timings {
  private readonly started = performance.now();
  private last = this.started;
  readonly phases: Array<[string, number]> = [];

  constructor(private readonly scenario: string) {}

  mark(phase: string): void {
    const now = performance.now();
    this.phases.push([phase, Math.round(now - this.last)]);
    this.last = now;
  }

  report(extra = ''): string {
    const total = Math.round(performance.now() - this.started);
    const line = `[reliability] ${this.scenario}: ${this.phases.map(([p, ms]) => `${p} ${(ms / 1000).toFixed(1)}s`).join(', ')}; total ${(total / 1000).toFixed(1)}s${extra ? `; ${extra}` : ''}`;
    console.log(line);
    return line;
  }
}

/**
 * `designs/{id}/{version}/{name}` as the seed's `designs/{id}/{name}` (issue #13 put each
 * render's images in a version folder of their own), so scenarios can compare key lists.
 */
export function unversioned(key: string): string {
  return key.replace(/^(designs\/[0-9a-f-]{36})\/[0-9a-z]{12,}\/([^/]+)$/, '$1/$2');
}

/** The newest version folder of a design in the local storage tree (versions sort by age). */
export async function latestLocalVersion(root: string, id: string): Promise<string> {
  const versions = (await readdir(path.join(root, 'designs', id))).filter((name) => /^[0-9a-z]{12,}$/.test(name)).sort();
  if (versions.length === 0) throw new Error(`design ${id} has no version folder under ${root}`);
  return path.join('designs', id, versions.at(-1)!);
}

/** Both seed assets of each design (its latest version) are in the local storage tree and decode as the right size. */
export async function expectLocalAssets(root: string, ids: readonly string[]): Promise<void> {
  await runPool(ids, 8, async (id) => {
    const folder = path.join(root, await latestLocalVersion(root, id));
    await expectValidPng(await readFile(path.join(folder, 'preview.png')), 'preview', id);
    await expectValidPng(await readFile(path.join(folder, 'thumbnail.png')), 'thumbnail', id);
  });
}

/** Both assets of each design are in `bucket` and decode as the right size. */
export async function expectS3Assets(client: S3Client, bucket: string, ids: readonly string[]): Promise<void> {
  await runPool(ids, 16, async (id) => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `designs/${id}/` }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!).sort();
    for (const kind of ['preview', 'thumbnail'] as const) {
      const key = keys.filter((k) => unversioned(k) === `designs/${id}/${kind}.png` && k !== `designs/${id}/${kind}.png`).at(-1);
      if (!key) throw new Error(`design ${id} has no versioned ${kind}.png in ${bucket} (keys: ${keys.join(', ')})`);
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      await expectValidPng(Buffer.from(await out.Body!.transformToByteArray()), kind, `${id} ${kind}`);
    }
  });
}

/**
 * One HTTP request with the path sent exactly as written: no URL parsing, so `..`, `%2e%2e`,
 * backslashes and `//` reach the server as they are (fetch would normalise some of them).
 */
export function rawHttp(baseUrl: string, method: string, rawPath: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: hostname,
        port: Number(port),
        method,
        path: rawPath,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) },
        timeout: 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${rawPath.slice(0, 80)}`)));
    req.end(body);
  });
}
