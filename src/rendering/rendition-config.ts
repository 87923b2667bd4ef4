/**
 * What renditions a deployment makes (RENDITIONS, IMAGE_FORMATS), as data the configuration
 * loader validates and the renderer consumes. Pure: parsing only, no pixels.
 */

/** Formats a rendition is encoded in: PNG (lossless, the seed's), WebP and AVIF. */
export const IMAGE_FORMATS = ['png', 'webp', 'avif'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export const IMAGE_CONTENT_TYPES: Readonly<Record<ImageFormat, string>> = { png: 'image/png', webp: 'image/webp', avif: 'image/avif' };

/** One size of a design's image: a square of `size` pixels named `name` (its file name in storage). */
export interface Rendition {
  readonly name: string;
  readonly size: number;
}

/** The seed's two: `preview` (600) and `thumbnail` (200, Lanczos from the preview); both required. */
export const SEED_RENDITIONS: readonly Rendition[] = Object.freeze([
  { name: 'thumbnail', size: 200 },
  { name: 'preview', size: 600 },
]);

/**
 * The web set, the default: four sizes for `srcset`, in PNG and WebP. A render makes only the
 * seed's two PNGs; the rest are made on their first request (src/designs/rendition-maker.ts):
 * made eagerly they would cost about 3x the seed's CPU per design (BENCHMARKS.md, "Web
 * renditions: encoder settings").
 */
export const WEB_RENDITIONS: readonly Rendition[] = Object.freeze([
  { name: 'thumbnail', size: 200 },
  { name: 'small', size: 400 },
  { name: 'preview', size: 600 },
  { name: 'large', size: 1200 },
]);
export const WEB_IMAGE_FORMATS: readonly ImageFormat[] = Object.freeze(['png', 'webp'] as const);

export const DEFAULT_RENDITIONS: readonly Rendition[] = WEB_RENDITIONS;
export const DEFAULT_IMAGE_FORMATS: readonly ImageFormat[] = WEB_IMAGE_FORMATS;

export const MIN_RENDITION_SIZE = 16;
export const MAX_RENDITION_SIZE = 4096;
const MAX_RENDITIONS = 12;
const NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** Names that are files of their own beside the renditions (print.pdf, print.png). */
const RESERVED_NAMES = new Set(['print']);

/** `thumbnail:200,small:400,preview:600` → renditions sorted by size, or the problem (completing "RENDITIONS ..."). */
export function parseRenditions(value: string): { renditions: Rendition[] } | { problem: string } {
  const accepts = 'must be a comma-separated list of name:pixels such as thumbnail:200,small:400,preview:600,large:1200';
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) return { problem: accepts };
  if (items.length > MAX_RENDITIONS) return { problem: `${accepts} (at most ${MAX_RENDITIONS} sizes)` };
  const renditions: Rendition[] = [];
  for (const item of items) {
    const match = /^([^:\s]+)\s*:\s*(\d+)$/.exec(item);
    if (!match) return { problem: `${accepts}; "${item}" is not name:pixels` };
    const [, name, digits] = match as unknown as [string, string, string];
    const size = Number(digits);
    if (!NAME.test(name)) return { problem: `${accepts}; the name "${name}" must be 1-32 lowercase letters, digits and hyphens, starting with a letter` };
    if (RESERVED_NAMES.has(name)) return { problem: `${accepts}; "${name}" is reserved (print files use it)` };
    if (size < MIN_RENDITION_SIZE || size > MAX_RENDITION_SIZE) return { problem: `${accepts}; the size of "${name}" must be from ${MIN_RENDITION_SIZE} to ${MAX_RENDITION_SIZE} pixels` };
    if (renditions.some((r) => r.name === name)) return { problem: `${accepts}; "${name}" is named twice` };
    renditions.push({ name, size });
  }
  for (const seed of SEED_RENDITIONS) {
    if (!renditions.some((r) => r.name === seed.name)) return { problem: `${accepts}; it must include ${seed.name} (the seed's ${seed.name}_url), e.g. ${seed.name}:${seed.size}` };
  }
  const preview = renditions.find((r) => r.name === 'preview')!;
  const thumbnail = renditions.find((r) => r.name === 'thumbnail')!;
  if (thumbnail.size > preview.size) return { problem: `${accepts}; thumbnail (${thumbnail.size}) must not be larger than preview (${preview.size}): it is made from the preview` };
  return { renditions: renditions.sort((a, b) => a.size - b.size || a.name.localeCompare(b.name)) };
}

/** `png,webp` → formats in a fixed order (png first), or the problem (completing "IMAGE_FORMATS ..."). */
export function parseImageFormats(value: string): { formats: ImageFormat[] } | { problem: string } {
  const accepts = `must be a comma-separated list of ${IMAGE_FORMATS.join(', ')} that includes png, such as png,webp`;
  const items = value.split(',').map((item) => item.trim().toLowerCase()).filter(Boolean);
  for (const item of items) {
    if (!(IMAGE_FORMATS as readonly string[]).includes(item)) return { problem: `${accepts}; "${item}" is not one of them` };
  }
  if (!items.includes('png')) return { problem: `${accepts}; png is required (preview_url and thumbnail_url are PNGs)` };
  return { formats: IMAGE_FORMATS.filter((format) => items.includes(format)) };
}
