import { randomUUID } from 'node:crypto';
import { AppError, ValidationError } from '../errors.js';
import type { DesignData as DesignSpecData } from '../rendering/index.js';
import { assertDesignId } from './design-id.js';

/**
 * The Design entity and its status machine. Pure: no I/O, no clock of its own (callers
 * pass `now`). The repository enforces the same moves in SQL with compare-and-set updates;
 * this module is what says which moves exist and what to tell a caller who asks for another.
 *
 *   PENDING ──claim──▶ RENDERING ──▶ PUBLISHED ──re-render──▶ PENDING
 *                         │  ▲ └──▶ FAILED ────re-render──▶ PENDING
 *                         └──┘ reclaim, only once the lease has expired (crashed worker)
 */

export const DESIGN_STATUSES = ['PENDING', 'RENDERING', 'PUBLISHED', 'FAILED'] as const;
export type DesignStatus = (typeof DESIGN_STATUSES)[number];

/**
 * What the user asked to render, as stored: the one definition in rendering/design-spec.ts
 * (snake_case keys, as the API sends them), except that the font is any string. A stored
 * design may name a font a later version no longer bundles; the render validates it again
 * and fails the design with UNKNOWN_FONT rather than the read failing.
 */
export type DesignData = Omit<DesignSpecData, 'font'> & { font: string };

export interface Design {
  readonly id: string;
  readonly ownerId: string;
  readonly productType: string;
  readonly designData: DesignData;
  readonly status: DesignStatus;
  /** Storage keys, not URLs: URLs are derived at read time (private buckets need fresh signatures). */
  readonly previewKey: string | null;
  readonly thumbnailKey: string | null;
  /** The last render error, kept across retries; cleared on publish and re-render. */
  readonly error: string | null;
  /** Render attempts since the design was created or last re-rendered. */
  readonly attempts: number;
  /** While RENDERING: until when the claiming worker owns the render. */
  readonly leaseUntil: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** When the design was last published; kept through a re-render. */
  readonly publishedAt: Date | null;
  /**
   * The upload its image comes from: `designData.image.upload_id`, lowercased; null without
   * an image. Stored in its own column (a foreign key to uploads) so the upload's DELETE and
   * publish find the designs using it by index.
   */
  readonly uploadId: string | null;
  /** Its print files (issue #12): a state machine of their own beside the render's. */
  readonly print: DesignPrint;
  /**
   * The version folder of its published images (issue #13), `designs/{id}/{assetVersion}/`;
   * null before the first publish, and for a design published before versions existed (its
   * previewKey is then the seed's `designs/{id}/preview.png`).
   */
  readonly assetVersion: string | null;
  /** Every published rendition in every format (empty before the first publish). */
  readonly assets: readonly PublishedRendition[];
  /** Whether its larger renditions carry the deployment's watermark. */
  readonly watermark: boolean;
}

/**
 * One image of a published design: a rendition in one format. `bytes` is null until it is
 * made: the seed's two PNGs are made by the render, the others on their first request.
 */
export interface PublishedRendition {
  readonly name: string;
  readonly format: string;
  readonly key: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number | null;
  /** Whether this version carries the watermark (the design's flag when it was rendered). */
  readonly watermarked?: boolean;
}

/**
 * Print files of a design (`POST /designs/{id}/print-files`), beside the render's states:
 *
 *   NONE ──request──▶ PENDING ──▶ READY ──re-render──▶ NONE
 *    ▲                  │  ▲ └──▶ FAILED ──request──▶ PENDING
 *    └──re-render───────┘  └ a claim while PENDING takes a lease; a retry or a crashed worker's lease ends
 *
 * Printing needs a PUBLISHED design (what the shopper saw is what gets printed); a re-render
 * of the design invalidates the print (back to NONE, keys forgotten, files removed).
 */
export const PRINT_STATUSES = ['NONE', 'PENDING', 'READY', 'FAILED'] as const;
export type PrintStatus = (typeof PRINT_STATUSES)[number];

/** A print warning as stored and shown (the print renderer's PrintWarning). */
export interface StoredPrintWarning {
  code: string;
  field: string;
  message: string;
  dpi?: number;
}

export interface DesignPrint {
  readonly status: PrintStatus;
  /** Why it FAILED; between retries, the last error. */
  readonly message: string | null;
  /** Storage keys of the private files, once READY (null for a file the product's spec does not make). */
  readonly pdfKey: string | null;
  readonly pngKey: string | null;
  readonly warnings: readonly StoredPrintWarning[];
  /** Print attempts since the print was last requested. */
  readonly attempts: number;
  /** While PENDING and claimed: until when the claiming worker owns the print job. */
  readonly leaseUntil: Date | null;
  readonly requestedAt: Date | null;
}

export const NO_PRINT: DesignPrint = Object.freeze({
  status: 'NONE', message: null, pdfKey: null, pngKey: null, warnings: Object.freeze([]), attempts: 0, leaseUntil: null, requestedAt: null,
});

export function isPrintStatus(value: unknown): value is PrintStatus {
  return typeof value === 'string' && (PRINT_STATUSES as readonly string[]).includes(value);
}

const ALLOWED: Readonly<Record<DesignStatus, readonly DesignStatus[]>> = {
  PENDING: ['RENDERING'],
  RENDERING: ['PUBLISHED', 'FAILED', 'RENDERING'],
  PUBLISHED: ['PENDING'],
  FAILED: ['PENDING'],
};

export function isDesignStatus(value: unknown): value is DesignStatus {
  return typeof value === 'string' && (DESIGN_STATUSES as readonly string[]).includes(value);
}

/**
 * Whether the status graph has the edge `from → to`. RENDERING → RENDERING is an edge,
 * but taking it also needs an expired lease: use assertTransition for the full rule.
 */
export function canTransition(from: DesignStatus, to: DesignStatus): boolean {
  return ALLOWED[from].includes(to);
}

/** Whether a RENDERING design's lease has run out, so another worker may claim it. */
export function isLeaseExpired(design: Pick<Design, 'leaseUntil'>, now: Date): boolean {
  return design.leaseUntil === null || design.leaseUntil.getTime() <= now.getTime();
}

/**
 * Throws AppError INVALID_STATUS_TRANSITION (not retryable, details `{ designId, from, to }`)
 * unless `design` may move to `to` at `now`. The message says what the caller can do.
 */
export function assertTransition(design: Pick<Design, 'id' | 'status' | 'leaseUntil'>, to: DesignStatus, now: Date): void {
  const from = design.status;
  if (canTransition(from, to) && !(from === 'RENDERING' && to === 'RENDERING' && !isLeaseExpired(design, now))) return;
  throw new AppError('INVALID_STATUS_TRANSITION', `Cannot move design ${design.id} from ${from} to ${to}: ${refusalAdvice(design, to)}`, {
    details: { designId: design.id, from, to },
  });
}

function refusalAdvice(design: Pick<Design, 'status' | 'leaseUntil'>, to: DesignStatus): string {
  switch (design.status) {
    case 'PENDING':
      return to === 'PENDING'
        ? 'a render is already queued; wait for it to finish.'
        : 'the design has not been claimed for rendering yet; a worker must claim it first.';
    case 'RENDERING':
      if (to === 'RENDERING') {
        return `another worker holds the render lease until ${design.leaseUntil?.toISOString()}; wait for it to finish or for the lease to expire.`;
      }
      return 'wait for the current render to finish, then request a re-render.';
    case 'PUBLISHED':
      return to === 'PUBLISHED'
        ? 'it is already published; request a re-render to render it again.'
        : 'it is already published; request a re-render first (it moves the design back to PENDING).';
    case 'FAILED':
      return 'its render failed; request a re-render to try again.';
  }
}

export interface NewDesignInput {
  id?: string;
  ownerId: string;
  productType: string;
  designData: DesignData;
  now: Date;
  /** Carry the watermark; default false. */
  watermark?: boolean;
}

/** A PENDING design, not yet stored. `id` defaults to a random UUID; a given one must be a UUID. */
export function newDesign(input: NewDesignInput): Design {
  const id = input.id === undefined ? randomUUID() : assertDesignId(input.id, 'id');
  if (input.ownerId.trim() === '') {
    throw new ValidationError('INVALID_OWNER_ID', 'A design needs an owner: ownerId must be a non-empty string.', 'owner_id');
  }
  const now = new Date(input.now.getTime());
  return {
    id,
    ownerId: input.ownerId,
    productType: input.productType,
    designData: { ...input.designData },
    status: 'PENDING',
    previewKey: null,
    thumbnailKey: null,
    error: null,
    attempts: 0,
    leaseUntil: null,
    createdAt: now,
    updatedAt: new Date(now.getTime()),
    publishedAt: null,
    uploadId: input.designData.image?.upload_id.toLowerCase() ?? null,
    print: NO_PRINT,
    assetVersion: null,
    assets: [],
    watermark: input.watermark ?? false,
  };
}
