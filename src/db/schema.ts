import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * The database as Kysely sees it. Column names are the SQL ones (snake_case); the
 * repository maps rows to the Design entity in one place.
 *
 * Timestamps are integer epoch milliseconds in both dialects (`bigint` in PostgreSQL,
 * `INTEGER` in SQLite): a JS Date round-trips exactly, and `<`, `ORDER BY` and index
 * range scans work the same everywhere with no time-zone or text-format traps.
 * createDatabase() makes `pg` return `bigint` as a JS number, as better-sqlite3 does.
 */
export type EpochMs = number;

export interface DesignsTable {
  /** UUID, lowercase, as text. */
  id: string;
  owner_id: string;
  product_type: string;
  /** JSON text: `{ text, font, color, text_color? }`, snake_case as the API sends it. */
  design_data: string;
  status: ColumnType<'PENDING' | 'RENDERING' | 'PUBLISHED' | 'FAILED', string, string>;
  /** Storage keys (`designs/<uuid>/preview.png`), never URLs: URLs are derived at read time. */
  preview_key: string | null;
  thumbnail_key: string | null;
  error: string | null;
  attempts: Generated<number>;
  lease_until: EpochMs | null;
  created_at: EpochMs;
  updated_at: EpochMs;
  published_at: EpochMs | null;
  /** Set by DELETE before anything is removed: the design is gone for the API and for renders. */
  deleted_at: ColumnType<EpochMs | null, EpochMs | null | undefined, EpochMs | null>;
}

export interface DB {
  designs: DesignsTable;
}

export type DesignRow = Selectable<DesignsTable>;
export type NewDesignRow = Insertable<DesignsTable>;
export type DesignRowUpdate = Updateable<DesignsTable>;
