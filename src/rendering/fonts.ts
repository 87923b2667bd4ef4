import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import { readCmapFile, type CodePointSet } from './cmap.js';

/**
 * The fonts a design may use: open-licence (OFL) families whose TTF files ship inside this
 * package, in assets/fonts/ (copied from the Google Fonts releases, licences beside them),
 * so a render uses the same font files on every machine, never whatever the host has
 * installed, and depends on no other package's internal file layout. Public names keep
 * the seed's style (`Bebas-Bold`).
 *
 * Behind every font stands the same chain of bundled Noto fallbacks for the characters it
 * lacks (FALLBACK_FACES): Pango takes the families in the order the font description lists
 * them, so with every file registered (see registerFontFiles in text-layout.ts) a
 * character the chain covers is drawn from the chain. Validation refuses text with a
 * character that no face of the chain covers (see text-rules.ts), so Pango never falls
 * through to system fonts or draws hex boxes.
 */
interface FontSource {
  /** The TTF in assets/fonts/. */
  readonly file: string;
  /**
   * The family the TTF declares in its name table (checked with fc-scan): a name that does
   * not match would silently fall back to a system font.
   */
  readonly family: string;
  /** The Pango style words, or '' for the regular face. */
  readonly style: string;
}

const FONT_SOURCES = {
  // Bebas Neue ships one weight; the seed called it Bebas-Bold.
  'Bebas-Bold': { file: 'BebasNeue_400Regular.ttf', family: 'Bebas Neue', style: '' },
  'Lobster-Regular': { file: 'Lobster_400Regular.ttf', family: 'Lobster', style: '' },
  'Montserrat-Bold': { file: 'Montserrat_700Bold.ttf', family: 'Montserrat', style: 'Bold' },
  'OpenSans-Bold': { file: 'OpenSans_700Bold.ttf', family: 'Open Sans', style: 'Bold' },
  'Oswald-Bold': { file: 'Oswald_700Bold.ttf', family: 'Oswald', style: 'Bold' },
  'Pacifico-Regular': { file: 'Pacifico_400Regular.ttf', family: 'Pacifico', style: '' },
  'Roboto-Bold': { file: 'Roboto_700Bold.ttf', family: 'Roboto', style: 'Bold' },
  'Roboto-Regular': { file: 'Roboto_400Regular.ttf', family: 'Roboto', style: '' },
} as const satisfies Record<string, FontSource>;

/**
 * The fallbacks, in the order Pango tries them. One weight each (Bold; Emoji has one): Noto Sans SC
 * alone is 10 MB, KR 6 MB. Noto Sans first, so a Latin, Greek or Cyrillic letter a
 * display font lacks comes from a plain sans, not from the CJK font's Latin.
 */
const FALLBACK_SOURCES: readonly FontSource[] = [
  { file: 'NotoSans_700Bold.ttf', family: 'Noto Sans', style: 'Bold' },
  { file: 'NotoSansArabic_700Bold.ttf', family: 'Noto Sans Arabic', style: 'Bold' },
  { file: 'NotoSansHebrew_700Bold.ttf', family: 'Noto Sans Hebrew', style: 'Bold' },
  { file: 'NotoSansDevanagari_700Bold.ttf', family: 'Noto Sans Devanagari', style: 'Bold' },
  { file: 'NotoSansThai_700Bold.ttf', family: 'Noto Sans Thai', style: 'Bold' },
  // Chinese and Japanese (kana, and Han in the simplified-Chinese forms); Korean Hangul.
  { file: 'NotoSansSC_700Bold.ttf', family: 'Noto Sans SC', style: 'Bold' },
  { file: 'NotoSansKR_700Bold.ttf', family: 'Noto Sans KR', style: 'Bold' },
  // Monochrome outlines: emoji take the text colour like every other glyph.
  { file: 'NotoEmoji_400Regular.ttf', family: 'Noto Emoji', style: '' },
];

/** What the bundled fonts and their fallbacks draw, for the README and error messages. */
export const SUPPORTED_SCRIPTS =
  'Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai, Chinese, Japanese, Korean and emoji (drawn in the text colour)';

export type FontName = keyof typeof FONT_SOURCES;

/** Every font a design may name, sorted. */
export const FONT_NAMES: readonly FontName[] = Object.freeze((Object.keys(FONT_SOURCES) as FontName[]).sort());

/** One font file with the Pango family that selects it. */
export interface FontFace {
  readonly family: string;
  /** Absolute path of the TTF. */
  readonly file: string;
}

export interface ResolvedFont {
  readonly name: FontName;
  /** Absolute path of the TTF, for sharp's `text.fontfile`. */
  readonly file: string;
  /**
   * Pango font description without a size, for sharp's `text.font`: the font's family,
   * then the fallback families, then the style (`Roboto,Noto Sans,…,Noto Emoji, Bold`).
   * The comma before the style ends the family list, so a family named like a style stays a family.
   */
  readonly pango: string;
  /** The font's face, then the fallback faces, in the order Pango tries them. */
  readonly faces: readonly FontFace[];
  /** Whether Pango is asked for the bold style (`pango` ends in Bold): a regular face in the chain is then emboldened. */
  readonly bold: boolean;
}

// Beside src/ and dist/ alike: both hold rendering/ one level down.
const FONT_DIR = fileURLToPath(new URL('../../assets/fonts/', import.meta.url));
const FALLBACK_FACES: readonly FontFace[] = Object.freeze(
  FALLBACK_SOURCES.map((source) => Object.freeze({ family: source.family, file: FONT_DIR + source.file })),
);
const resolved = new Map<FontName, ResolvedFont>();
const coverages = new Map<string, CodePointSet>();

export function isFontName(name: unknown): name is FontName {
  return typeof name === 'string' && Object.hasOwn(FONT_SOURCES, name);
}

/**
 * The bundled font called `name`. Throws ValidationError UNKNOWN_FONT (field
 * `design_data.font`, message listing the available names) for any other name.
 */
export function resolveFont(name: string): ResolvedFont {
  if (!isFontName(name)) {
    const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
    throw new ValidationError('UNKNOWN_FONT', `Unknown font ${shown}. Available fonts: ${FONT_NAMES.join(', ')}.`, 'design_data.font');
  }
  let font = resolved.get(name);
  if (!font) {
    const source: FontSource = FONT_SOURCES[name];
    const own: FontFace = Object.freeze({ family: source.family, file: FONT_DIR + source.file });
    const faces = Object.freeze([own, ...FALLBACK_FACES]);
    const pango = `${faces.map((face) => face.family).join(',')}, ${source.style}`.trimEnd();
    font = Object.freeze({ name, file: own.file, pango, faces, bold: source.style === 'Bold' });
    resolved.set(name, font);
  }
  return font;
}

/**
 * The code points `face` has glyphs for, read from its file once per process.
 * Throws AppError FONT_FILE_MISSING or FONT_UNREADABLE (not retryable) when the file is
 * missing or has no usable cmap.
 */
export function faceCoverage(face: FontFace): CodePointSet {
  let coverage = coverages.get(face.file);
  if (!coverage) {
    coverage = readCmapFile(face.file, face.family);
    coverages.set(face.file, coverage);
  }
  return coverage;
}
