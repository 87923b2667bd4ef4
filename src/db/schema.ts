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
  /** The upload its image comes from (design_data.image.upload_id, lowercased); a foreign key to uploads. */
  upload_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Print files (issue #12, migration 0006): NONE, PENDING, READY or FAILED. */
  print_status: ColumnType<'NONE' | 'PENDING' | 'READY' | 'FAILED', string | undefined, string>;
  /** Why the print FAILED (or, between retries, the last error). */
  print_message: ColumnType<string | null, string | null | undefined, string | null>;
  /** Storage keys of the private print files, once READY. */
  print_pdf_key: ColumnType<string | null, string | null | undefined, string | null>;
  print_png_key: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON text: the print renderer's warnings (PrintWarning[]), once READY. */
  print_warnings: ColumnType<string | null, string | null | undefined, string | null>;
  print_attempts: ColumnType<number, number | undefined, number>;
  print_lease_until: ColumnType<EpochMs | null, EpochMs | null | undefined, EpochMs | null>;
  /** When print files were last requested (the sweep finds lost print jobs by it). */
  print_requested_at: ColumnType<EpochMs | null, EpochMs | null | undefined, EpochMs | null>;
  /** The version folder of the published images (issue #13, migration 0007); null: the seed's unversioned keys. */
  asset_version: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON text: the published renditions (PublishedRendition[]). */
  assets: ColumnType<string | null, string | null | undefined, string | null>;
  /** 1: the design's larger renditions carry the watermark. */
  watermark: ColumnType<number, number | undefined, number>;
}

/** Versions of a design's images that a re-render replaced, removed once `delete_after` has passed. */
export interface SupersededAssetsTable {
  design_id: string;
  /** The version folder, or `legacy` for the seed's unversioned keys. */
  version: string;
  /** JSON text: the keys to remove. */
  keys: string;
  delete_after: EpochMs;
  /** JSON text: the replaced version's manifest (PublishedRendition[]); null on rows older than migration 0009. */
  assets: string | null;
}

/** The CDN invalidation outbox: paths whose cached copies must be dropped. */
export interface CdnInvalidationsTable {
  /** A CloudFront path: `/designs/<uuid>/<version>/preview.png`, or a prefix ending in `*`. */
  path: string;
  created_at: EpochMs;
  attempts: ColumnType<number, number | undefined, number>;
  /** Not sent before this (backoff after a failed request). */
  next_attempt_at: EpochMs;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
}

/** User uploads (issue #11); see src/uploads/upload.ts for the states. */
export interface UploadsTable {
  id: string;
  owner_id: string;
  kind: ColumnType<'design-image' | 'avatar', string, string>;
  status: ColumnType<'RECEIVED' | 'SCANNING' | 'CLEAN' | 'PUBLISHED' | 'REJECTED', string, string>;
  reason: string | null;
  message: string | null;
  /** The name the client gave (multipart), for display only; never used to judge the type. */
  filename: string | null;
  /** The bytes as received, under `staging/`; null once processed. */
  staging_key: string | null;
  /** The published normalised original, under `uploads/{id}/`. */
  original_key: string | null;
  content_type: string | null;
  bytes: number | null;
  width: number | null;
  height: number | null;
  /** The scanner's verdict: clean, skipped (scanning disabled) or the signature found. */
  scan: string | null;
  attempts: Generated<number>;
  lease_until: EpochMs | null;
  created_at: EpochMs;
  updated_at: EpochMs;
  published_at: EpochMs | null;
}

/** Each user's current avatar (src/avatars/): one row per user, pointing at a PUBLISHED upload of kind avatar. */
export interface AvatarsTable {
  user_id: string;
  upload_id: string;
  updated_at: EpochMs;
}

/** The webhook delivery log (issue #14, migration 0008); see src/webhooks/delivery-log.ts. */
export interface WebhookDeliveriesTable {
  event_id: string;
  /** design.published, design.failed, upload.published or upload.rejected. */
  type: string;
  /** The design's or upload's id. */
  subject_id: string;
  /** Which change of the subject: a design's published_at or failure time; 0 for an upload (its end states are final). */
  subject_version: EpochMs;
  /** The JSON body exactly as sent (`{id, type, created_at, data}`). */
  body: string;
  /** When the change happened (the body's created_at). */
  created_at: EpochMs;
  window_started_at: EpochMs;
  status: ColumnType<'pending' | 'delivered' | 'failed', string | undefined, string>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: EpochMs;
  lease_until: ColumnType<EpochMs | null, EpochMs | null | undefined, EpochMs | null>;
  last_status_code: ColumnType<number | null, number | null | undefined, number | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  delivered_at: ColumnType<EpochMs | null, EpochMs | null | undefined, EpochMs | null>;
  updated_at: EpochMs;
}

export interface DB {
  designs: DesignsTable;
  uploads: UploadsTable;
  avatars: AvatarsTable;
  superseded_assets: SupersededAssetsTable;
  cdn_invalidations: CdnInvalidationsTable;
  webhook_deliveries: WebhookDeliveriesTable;
}

export type DesignRow = Selectable<DesignsTable>;
export type NewDesignRow = Insertable<DesignsTable>;
export type DesignRowUpdate = Updateable<DesignsTable>;

export type UploadRow = Selectable<UploadsTable>;
