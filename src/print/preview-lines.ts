import type { ResolvedFont } from '../rendering/fonts.js';
import { layoutText, quantize, renderTextLines, type TextBox, type TextMask } from '../rendering/text-layout.js';
import type { ShapeCache } from './print-layout.js';

/**
 * Text whose wrapped lines Pango may set otherwise in its paragraph than on their own:
 * right-to-left letters (the paragraph's bidi levels keep a wrap's spaces beside the
 * right-to-left run, between it and the text before it on the screen; an explicit line puts
 * them at its end), emoji (the fallback face's run measures and breaks differently) and runs
 * of spaces (a wrap inside one leaves some of it at a line's end, where Pango's paragraph and
 * an explicit line centre it differently). print-line-breaks.test.ts and a fuzz of such texts
 * found them where no line of the print could be drawn as the preview had drawn it.
 */
const SET_IN_PARAGRAPH_OTHERWISE = /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Extended_Pictographic}\p{Regional_Indicator}]|[^\S\n]{2}/u;

/** Pixels taken off the wrap width, in turn, while the print's lines drawn by Pango are wider than the box. */
const NARROWER_STEPS = [0, -1, -2, -3, -4, -6, -8];
/** Rungs of the size ladder tried below Pango's size when no narrower wrap fits (the lines taller than the box). */
const SMALLER_SIZES = 3;

/** The print layout's lines a text was drawn as (PrintTextLayout's `lines[].text` and `pango`). */
export interface PrintedLines {
  readonly lines: readonly string[];
  readonly pango: readonly string[];
}

export interface DesignTextMask extends TextMask {
  /** Set when the text was drawn from the print layout's lines rather than Pango's own wrap. */
  readonly printed?: PrintedLines;
}

/**
 * A design's text as the previews and renditions draw it: layoutText's size search, and for
 * wrapped text that Pango may set otherwise in a paragraph (right-to-left letters, emoji),
 * the print layout's lines at that size drawn by Pango one by one. The print files then draw
 * the very lines the preview shows (previewText returns them), instead of lines checked
 * against Pango's paragraph, which for such text no wrap width may reproduce. Other text
 * (most: no such letters or space runs) is drawn exactly as layoutText draws it, and so are
 * the layers that are not the design's own text (TextLayer.followsPrint: watermarks, the
 * print's explicit lines). The print's lines are wrapped at Pango's width, or a few pixels
 * narrower, or drawn up to SMALLER_SIZES rungs smaller (whole pixels, not below the box's
 * smallest size), until they fit the box; where none fits, Pango's own wrap is kept.
 */
export async function layoutDesignText(text: string, font: ResolvedFont, box: TextBox): Promise<DesignTextMask | null> {
  const mask = await layoutText(text, font, box);
  if (!mask?.wrap || !Number.isInteger(mask.fontSize) || !SET_IN_PARAGRAPH_OTHERWISE.test(text)) return mask;
  // fontkit and the fonts' files, loaded only for the text that needs them (render threads included).
  const { wrapPrintText } = await import('./print-layout.js');
  const tries: Array<{ fontSize: number; width: number }> = NARROWER_STEPS.map((step) => ({ fontSize: mask.fontSize, width: mask.wrap!.width + step }));
  // Whole pixels, never below the smallest size layoutText itself would draw (it rounds it too).
  const smallest = Math.max(1, Math.min(mask.fontSize, Math.round(box.minFontSize)));
  for (let size = mask.fontSize, rung = 0; rung < SMALLER_SIZES && size > smallest; rung++) {
    size = Math.max(smallest, quantize(size - 1));
    tries.push({ fontSize: size, width: mask.wrap.width });
  }
  const tried = new Set<string>();
  const shaped: ShapeCache = new Map();
  for (const { fontSize, width } of tries) {
    const layout = wrapPrintText(text, font, fontSize, { ...mask.wrap, width }, shaped);
    const key = `${fontSize}|${layout.pango.join('\n')}`;
    if (tried.has(key)) continue;
    tried.add(key);
    const drawn = await renderTextLines(layout.pango, font, fontSize);
    if (!drawn) return mask;
    if (drawn.width <= box.maxWidth && drawn.height <= box.maxHeight) {
      return { ...drawn, wrap: { ...mask.wrap, width }, printed: { lines: layout.lines.map((line) => line.text), pango: layout.pango } };
    }
  }
  return mask;
}
