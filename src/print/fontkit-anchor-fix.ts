import type { Font } from '@pdf-lib/fontkit';

/**
 * @pdf-lib/fontkit 1.1.1 throws a TypeError ("Cannot read properties of null (reading
 * 'xCoordinate')") when a mark attachment lookup meets a NULL anchor, which OpenType allows
 * and fonts use to say "this base takes no mark of this class" (Bebas Neue has one for "v"
 * with U+0328 COMBINING OGONEK). HarfBuzz, which Pango shapes with, then leaves the mark where
 * it is; this does the same, so that such text lays out instead of failing the print.
 * Applied once, on the first font that has a GPOS table.
 */
interface GposInternals {
  applyAnchor: (this: GposInternals, markRecord: { markAnchor: unknown } | null, baseAnchor: unknown, baseGlyphIndex: number) => void;
}

let patched = false;

export function fixFontkitNullAnchors(font: Font): void {
  if (patched) return;
  const engine = (font as unknown as { _layoutEngine?: { engine?: { GPOSProcessor?: GposInternals | null } } })._layoutEngine?.engine;
  if (!engine) return;
  const processor = engine.GPOSProcessor;
  if (!processor) return;
  const prototype = Object.getPrototypeOf(processor) as GposInternals;
  const original = prototype.applyAnchor;
  // For 1.1.1's internals (package.json pins it); a version without them is left alone.
  if (typeof original === 'function') {
    prototype.applyAnchor = function nullSafe(this: GposInternals, markRecord, baseAnchor, baseGlyphIndex): void {
      if (baseAnchor == null || markRecord == null || markRecord.markAnchor == null) return;
      original.call(this, markRecord, baseAnchor, baseGlyphIndex);
    };
  }
  patched = true;
}
