import { createRequire } from 'node:module';
import { AppError, ValidationError } from '../errors.js';

/**
 * The fonts a design may use: open-licence (OFL / Apache 2.0) families bundled as npm
 * packages, so a render uses the same font file on every machine instead of whatever the
 * host has installed. Public names keep the seed's style (`Bebas-Bold`).
 */
interface FontSource {
  /** The npm package and the TTF inside it. */
  readonly module: string;
  /**
   * The Pango family list and style the TTF declares in its name table (checked with
   * fc-scan): a name that does not match would silently fall back to a system font.
   * The trailing comma ends the family list, so a family named like a style stays a family.
   */
  readonly pango: string;
}

const FONT_SOURCES = {
  // Bebas Neue ships one weight; the seed called it Bebas-Bold.
  'Bebas-Bold': { module: '@expo-google-fonts/bebas-neue/400Regular/BebasNeue_400Regular.ttf', pango: 'Bebas Neue,' },
  'Lobster-Regular': { module: '@expo-google-fonts/lobster/400Regular/Lobster_400Regular.ttf', pango: 'Lobster,' },
  'Montserrat-Bold': { module: '@expo-google-fonts/montserrat/700Bold/Montserrat_700Bold.ttf', pango: 'Montserrat, Bold' },
  'OpenSans-Bold': { module: '@expo-google-fonts/open-sans/700Bold/OpenSans_700Bold.ttf', pango: 'Open Sans, Bold' },
  'Oswald-Bold': { module: '@expo-google-fonts/oswald/700Bold/Oswald_700Bold.ttf', pango: 'Oswald, Bold' },
  'Pacifico-Regular': { module: '@expo-google-fonts/pacifico/400Regular/Pacifico_400Regular.ttf', pango: 'Pacifico,' },
  'Roboto-Bold': { module: '@expo-google-fonts/roboto/700Bold/Roboto_700Bold.ttf', pango: 'Roboto, Bold' },
  'Roboto-Regular': { module: '@expo-google-fonts/roboto/400Regular/Roboto_400Regular.ttf', pango: 'Roboto,' },
} as const satisfies Record<string, FontSource>;

export type FontName = keyof typeof FONT_SOURCES;

/** Every font a design may name, sorted. */
export const FONT_NAMES: readonly FontName[] = Object.freeze((Object.keys(FONT_SOURCES) as FontName[]).sort());

export interface ResolvedFont {
  readonly name: FontName;
  /** Absolute path of the TTF, for sharp's `text.fontfile`. */
  readonly file: string;
  /** Pango font description without a size, for sharp's `text.font` (`Roboto, Bold`). */
  readonly pango: string;
}

// Resolved through Node's module resolution, so the same code finds the files from
// src/ (tsx, vitest) and from the compiled dist/.
const requireFont = createRequire(import.meta.url);
const resolved = new Map<FontName, ResolvedFont>();

export function isFontName(name: unknown): name is FontName {
  return typeof name === 'string' && Object.hasOwn(FONT_SOURCES, name);
}

/**
 * The bundled font called `name`. Throws ValidationError UNKNOWN_FONT (field
 * `design_data.font`, message listing the available names) for any other name, and
 * AppError FONT_FILE_MISSING (not retryable) when the font's package is not installed.
 */
export function resolveFont(name: string): ResolvedFont {
  if (!isFontName(name)) {
    const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
    throw new ValidationError('UNKNOWN_FONT', `Unknown font ${shown}. Available fonts: ${FONT_NAMES.join(', ')}.`, 'design_data.font');
  }
  let font = resolved.get(name);
  if (!font) {
    const source: FontSource = FONT_SOURCES[name];
    let file: string;
    try {
      file = requireFont.resolve(source.module);
    } catch (error) {
      const pkg = source.module.split('/').slice(0, 2).join('/');
      throw new AppError('FONT_FILE_MISSING', `The file of font "${name}" is missing: install the npm package ${pkg}.`, { cause: error });
    }
    font = Object.freeze({ name, file, pango: source.pango });
    resolved.set(name, font);
  }
  return font;
}
