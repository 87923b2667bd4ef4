import type { Database } from '../db/database.js';
import { databaseError } from '../designs/design-repository.js';
import { MAX_PATHS_PER_REQUEST, MAX_WILDCARDS_PER_REQUEST } from './invalidation-paths.js';

/** A path taken for one request: `createdAt` tells whether it was recorded again meanwhile. */
export interface ClaimedPath {
  path: string;
  createdAt: number;
  /** Failed requests so far. */
  attempts: number;
}

/** A claim: its paths, and the lease (the next_attempt_at it set) that marks them as taken. */
export interface Claim {
  paths: ClaimedPath[];
  leaseUntil: number;
}

// 5 values a row: 400 rows stay far below SQLite's and PostgreSQL's parameter limits.
const RECORD_CHUNK = 400;
const LAST_ERROR_MAX = 1000;

/**
 * The cdn_invalidations table (migration 0007): the durable outbox of CloudFront paths.
 * A path stays until CloudFront has accepted it, whatever fails in between.
 *
 * - Recording a path already there keeps its place and backoff, and moves its created_at
 *   forward: a path recorded again while a request for it is in flight (its bytes changed
 *   again) survives that request's success and is sent once more.
 * - A claim is one UPDATE ... RETURNING that moves next_attempt_at of due rows to a lease in
 *   the future. Its WHERE repeats `next_attempt_at <= now`, so of two processes claiming at
 *   once the second skips the rows the first took (PostgreSQL re-checks it on the row it
 *   waited for; SQLite runs one writer at a time). A process that dies mid-request leaves
 *   its rows to be claimed again when the lease passes.
 *
 * Errors: database failures as DATABASE_UNAVAILABLE (retryable) or DATABASE_ERROR.
 */
export class InvalidationOutbox {
  constructor(private readonly db: Database) {}

  /** Records `paths` (distinct), due at `now`. */
  async record(paths: readonly string[], now: number): Promise<void> {
    for (let start = 0; start < paths.length; start += RECORD_CHUNK) {
      const rows = paths.slice(start, start + RECORD_CHUNK).map((path) => ({ path, created_at: now, attempts: 0, next_attempt_at: now, last_error: null }));
      await this.run('recording CDN invalidations', () =>
        this.db.insertInto('cdn_invalidations').values(rows)
          .onConflict((oc) => oc.column('path').doUpdateSet((eb) => ({
            // Strictly later than the value a claim in flight read, even within one millisecond.
            created_at: eb.case().when('cdn_invalidations.created_at', '>=', now).then(eb('cdn_invalidations.created_at', '+', 1)).else(now).end(),
          })))
          .execute());
    }
  }

  /** Whether any path is due: a read, so an idle poll takes no write lock. */
  async hasDue(now: number): Promise<boolean> {
    const row = await this.run('reading CDN invalidations', () =>
      this.db.selectFrom('cdn_invalidations').select('path').where('next_attempt_at', '<=', now).limit(1).executeTakeFirst());
    return row !== undefined;
  }

  /**
   * Takes up to one request's worth of due paths (at most MAX_WILDCARDS_PER_REQUEST of them
   * wildcards), oldest due first, until `leaseUntil`.
   */
  async claim(now: number, leaseUntil: number, maxPaths = MAX_PATHS_PER_REQUEST): Promise<Claim> {
    const wildcards = await this.claimSome(now, leaseUntil, Math.min(MAX_WILDCARDS_PER_REQUEST, maxPaths), true);
    const files = await this.claimSome(now, leaseUntil, maxPaths - wildcards.length, false);
    return { paths: [...wildcards, ...files], leaseUntil };
  }

  private async claimSome(now: number, leaseUntil: number, limit: number, wildcards: boolean): Promise<ClaimedPath[]> {
    if (limit <= 0) return [];
    const rows = await this.run('claiming CDN invalidations', () =>
      this.db.updateTable('cdn_invalidations')
        .set({ next_attempt_at: leaseUntil })
        .where('next_attempt_at', '<=', now)
        .where('path', 'in', this.db.selectFrom('cdn_invalidations').select('path')
          .where('next_attempt_at', '<=', now)
          .where('path', wildcards ? 'like' : 'not like', '%*')
          .orderBy('next_attempt_at').orderBy('path').limit(limit))
        .returning(['path', 'created_at', 'attempts'])
        .execute());
    return rows.map((row) => ({ path: row.path, createdAt: Number(row.created_at), attempts: Number(row.attempts) }));
  }

  /**
   * CloudFront accepted the claim: its rows go, except those recorded again since the claim,
   * which are due again at once.
   */
  async complete(claim: Claim, now: number): Promise<void> {
    if (claim.paths.length === 0) return;
    await this.run('removing sent CDN invalidations', () =>
      this.db.deleteFrom('cdn_invalidations')
        .where((eb) => eb(eb.refTuple('path', 'created_at'), 'in', claim.paths.map((p) => eb.tuple(p.path, p.createdAt))))
        .execute());
    await this.run('rescheduling CDN invalidations recorded again', () =>
      this.db.updateTable('cdn_invalidations').set({ next_attempt_at: now })
        .where('path', 'in', claim.paths.map((p) => p.path)).where('next_attempt_at', '=', claim.leaseUntil)
        .execute());
  }

  /**
   * The request failed: each row still under this claim counts the failure, keeps `error`,
   * and waits `delayMs(failures)` from `now`. Rows are never removed here.
   */
  async fail(claim: Claim, error: string, now: number, delayMs: (failures: number) => number): Promise<void> {
    const byAttempts = new Map<number, ClaimedPath[]>();
    for (const p of claim.paths) {
      const group = byAttempts.get(p.attempts);
      if (group) group.push(p);
      else byAttempts.set(p.attempts, [p]);
    }
    const lastError = error.length > LAST_ERROR_MAX ? `${error.slice(0, LAST_ERROR_MAX - 1)}…` : error;
    for (const [attempts, paths] of byAttempts) {
      await this.run('recording a failed CDN invalidation', () =>
        this.db.updateTable('cdn_invalidations')
          .set({ attempts: attempts + 1, last_error: lastError, next_attempt_at: now + delayMs(attempts + 1) })
          .where('path', 'in', paths.map((p) => p.path)).where('next_attempt_at', '=', claim.leaseUntil)
          .execute());
    }
  }

  /** Paths waiting, due or not (the backlog gauge). */
  async backlog(): Promise<number> {
    const row = await this.run('counting CDN invalidations', () =>
      this.db.selectFrom('cdn_invalidations').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow());
    return Number(row.n);
  }

  private async run<T>(operation: string, query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw databaseError(operation, error);
    }
  }
}
