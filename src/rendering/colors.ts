import { ValidationError } from '../errors.js';

/** An sRGB colour, 0–255 per channel. */
export interface Rgb {
  readonly r: number;
  readonly g: number;
  readonly b: number;
}

/** The design fields that hold a colour, as the public API names them. */
export type ColorField = 'design_data.color' | 'design_data.text_color';

export const WHITE: Rgb = Object.freeze({ r: 255, g: 255, b: 255 });
export const BLACK: Rgb = Object.freeze({ r: 0, g: 0, b: 0 });

/** `#RGB` or `#RRGGBB`, either case: the one colour syntax, also the JSON Schema pattern of colour fields. */
export const HEX_COLOR_PATTERN = '^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$';
const HEX_COLOR = new RegExp(HEX_COLOR_PATTERN);

/**
 * Parses `#RGB` or `#RRGGBB` (any case). Anything else, named colours included, throws
 * ValidationError INVALID_COLOR naming `field`: accepting only hex keeps the API's colour
 * meaning the same in every client and renderer.
 */
export function parseColor(value: string, field: ColorField = 'design_data.color'): Rgb {
  if (!HEX_COLOR.test(value)) {
    // The value is echoed back to the user, so a huge or multi-line one is cut short.
    const shown = JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
    throw new ValidationError('INVALID_COLOR', `${field} must be a hex colour like #FF0000 or #F00, got ${shown}.`, field);
  }
  const hex = value.length === 4 ? [...value.slice(1)].map((digit) => digit + digit).join('') : value.slice(1);
  const n = Number.parseInt(hex, 16);
  return { r: (n >> 16) & 0xff, g: (n >> 8) & 0xff, b: n & 0xff };
}

/** `#RRGGBB`, upper case. */
export function formatColor({ r, g, b }: Rgb): string {
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1).toUpperCase()}`;
}

/** WCAG 2 relative luminance, 0 (black) to 1 (white). */
export function relativeLuminance({ r, g, b }: Rgb): number {
  const linear = (channel: number) => {
    const c = channel / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** WCAG 2 contrast ratio, 1 (none) to 21 (black on white). */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const [light, dark] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/** White or black, whichever contrasts more with `background` (white on a tie). */
export function contrastingTextColor(background: Rgb): Rgb {
  return contrastRatio(WHITE, background) >= contrastRatio(BLACK, background) ? WHITE : BLACK;
}
