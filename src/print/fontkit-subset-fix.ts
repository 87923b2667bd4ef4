import { readFileSync } from 'node:fs';
import fontkit from '@pdf-lib/fontkit';

/**
 * @pdf-lib/fontkit 1.1.1 writes a TrueType subset whose glyphs follow each other with no
 * padding, then may choose the short `loca` format, which stores offsets halved: after a
 * glyph of odd length every offset is off by one byte and the glyphs behind it are read
 * as empty (Pacifico and Lobster lose most letters in print.pdf). The OpenType spec asks
 * for glyph data padded to an even length (4 is customary, and what fontkit 2 writes).
 * This pads each glyph as the subset adds it. Applied once, on first use.
 */
interface SubsetInternals {
  _addGlyph: (this: SubsetInternals, gid: number) => number;
  glyf: Uint8Array[];
  offset: number;
}

let patched = false;

export function fixFontkitSubsetPadding(sampleFontFile: string): void {
  if (patched) return;
  const subset = fontkit.create(readFileSync(sampleFontFile)).createSubset() as unknown as SubsetInternals;
  const prototype = Object.getPrototypeOf(subset) as SubsetInternals;
  const original = prototype._addGlyph;
  // The fix is for 1.1.1's internals (package.json pins that version); a later version that
  // changed them is left alone, and the script-font test in print-files.test.ts tells.
  if (typeof original !== 'function') {
    patched = true;
    return;
  }
  prototype._addGlyph = function padded(this: SubsetInternals, gid: number): number {
    const index = original.call(this, gid);
    const data = this.glyf[index]!;
    const padding = (4 - (data.length % 4)) % 4;
    if (padding > 0) {
      // fontkit's bundle has its own Buffer class, which its streams insist on: build the padded copy with it.
      const FontkitBuffer = data.constructor as unknown as { concat(list: Uint8Array[]): Uint8Array; alloc(size: number): Uint8Array };
      this.glyf[index] = FontkitBuffer.concat([data, FontkitBuffer.alloc(padding)]);
      this.offset += padding;
    }
    return index;
  };
  patched = true;
}
