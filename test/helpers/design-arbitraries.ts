import fc from 'fast-check';
import { FONT_NAMES, PRODUCT_TYPES } from '../../src/rendering/index.js';

/**
 * fast-check generators of design bodies for POST /api/v1/designs: valid ones, and ones
 * broken the ways clients and fuzzers break them (wrong types, missing and extra fields,
 * blank, over-long and many-line text, control and other special characters, bad colours).
 * Which ones are valid is not decided here: the tests ask the published schema and the domain.
 */

// Characters chosen to sit on every edge of the text rules: blanks that trim() removes and
// ones it keeps, line breaks, C0/C1 controls, a lone surrogate, invisible and wide characters.
const TEXT_CHARACTERS = [
  'a', 'Z', '7', ' ', '-', '<', '&', 'é', '你', '😀', 'م', '\n', '\t', '\r', '\u000b', '\u000c', '\u0000', '\u0007', '\u001b',
  '\u007f', '\u0085', '\u009f', '\u00a0', '\u1680', '\u2000', '\u200a', '\u200b', '\u200d', '\u2028', '\u2029', '\u202f',
  '\u205f', '\u3000', '\ufeff', '\u00ad', '\ud800', '\udfff', '\u180e', '\u001c',
  // Drawn by no bundled font, or by only some; a mark from another script; the rest are invisible.
  'ა', 'ሰ', '\u0378', '\ue000', '\uf8ff', '\u{13000}', '\u064e', '\u2800', '\u3164', '\u2060', '\ufe0f', '\u{e0067}',
];

const char = fc.constantFrom(...TEXT_CHARACTERS);
const word = fc.stringMatching(/^[A-Za-z0-9 ]{1,12}$/);

const nonString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}), fc.array(fc.string(), { maxLength: 2 }));

export const textArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: word },
  { weight: 4, arbitrary: fc.array(char, { maxLength: 24 }).map((chars) => chars.join('')) },
  { weight: 2, arbitrary: fc.tuple(word, char, word).map(([a, c, b]) => `${a}${c}${b}`) },
  // Around the length limit, in letters and in astral characters (two UTF-16 units each).
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 195, max: 205 }), fc.constantFrom('x', '😀')).map(([n, c]) => c.repeat(n)) },
  // Around the line limit, with every kind of line break.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 8, max: 12 }), word, fc.constantFrom('\n', '\r\n', '\r', '\u000b', '\u000c', '\u0085', '\u2028', '\u2029'))
      .map(([n, w, lineBreak]) => Array(n).fill(w).join(lineBreak)),
  },
);

const hexDigit = fc.constantFrom(...'0123456789abcdefABCDEF');
const validColor = fc.oneof(
  fc.array(hexDigit, { minLength: 3, maxLength: 3 }).map((d) => `#${d.join('')}`),
  fc.array(hexDigit, { minLength: 6, maxLength: 6 }).map((d) => `#${d.join('')}`),
);
const colorArb = fc.oneof(
  { weight: 6, arbitrary: validColor },
  { weight: 1, arbitrary: validColor.map((c) => `${c}\n`) },
  { weight: 1, arbitrary: fc.array(hexDigit, { minLength: 0, maxLength: 8 }).map((d) => `#${d.join('')}`) },
  { weight: 1, arbitrary: fc.constantFrom('red', '123456', '#GGG', ' #FFF', '') },
  { weight: 1, arbitrary: nonString },
);

type Body = Record<string, unknown> & { design_data: Record<string, unknown> };
type Mutation = (body: Body) => unknown;

const validTextArb = fc.oneof(
  word,
  fc.array(fc.constantFrom('a', 'Z', ' ', 'é', '你', '😀', 'م', '\n', '\u00a0', '\u200b'), { minLength: 1, maxLength: 30 }).map((c) => `x${c.join('')}`),
);

const uuidArb = fc.uuid().chain((id) => fc.constantFrom(id, id.toUpperCase()));
const placementArb = fc.record(
  {
    position: fc.constantFrom('above', 'below', 'behind'),
    size: fc.oneof(fc.constantFrom(0.1, 1, 0.5), fc.double({ min: 0.1, max: 1, noNaN: true })),
    fit: fc.constantFrom('contain', 'cover'),
  },
  { requiredKeys: [] },
);
/** A valid design_data.image: an upload id, a placement with any of its fields, or none. */
export const validImageArb = fc.record({ upload_id: uuidArb, placement: placementArb }, { requiredKeys: ['upload_id'] });

/** A valid design, text_color present or not; an image or not, and then text or not. */
export const validDesignArb: fc.Arbitrary<Body> = fc
  .record({
    product_type: fc.constantFrom(...PRODUCT_TYPES),
    text: validTextArb,
    font: fc.constantFrom(...FONT_NAMES),
    color: validColor,
    text_color: fc.option(validColor, { nil: undefined }),
    image: fc.option(validImageArb, { nil: undefined, freq: 3 }),
    withText: fc.boolean(),
  })
  .map(({ product_type, text_color, image, withText, text, ...data }) => ({
    product_type,
    design_data: { ...data, ...(image && !withText ? {} : { text }), ...(text_color ? { text_color } : {}), ...(image ? { image } : {}) },
  }));

const dataField = fc.constantFrom('text', 'font', 'color', 'text_color', 'image');
const imageValue = fc.oneof(
  validImageArb,
  fc.constant({}),
  fc.record({ upload_id: fc.oneof(fc.constantFrom('', 'x', '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2'), nonString), placement: placementArb }),
  fc.tuple(uuidArb, fc.constantFrom('position', 'size', 'fit', 'offset'), fc.oneof(fc.constantFrom('left', 'center', 'fill', 0, 0.05, 1.5, -1, 0.1, 1), nonString))
    .map(([id, key, value]) => ({ upload_id: id, placement: { [key]: value } })),
  fc.tuple(uuidArb, fc.oneof(nonString, fc.constant('x'))).map(([id, placement]) => ({ upload_id: id, placement })),
  uuidArb.map((id) => ({ upload_id: id, url: 'https://example.com/x.png' })),
);
const anyValue = fc.oneof(nonString, fc.string({ maxLength: 12 }));

/** One change a client or a fuzzer might make to a valid body; some leave it valid. */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  textArb.map((text): Mutation => (b) => ({ ...b, design_data: { ...b.design_data, text } })),
  colorArb.map((color): Mutation => (b) => ({ ...b, design_data: { ...b.design_data, color } })),
  imageValue.map((image): Mutation => (b) => ({ ...b, design_data: { ...b.design_data, image } })),
  fc.oneof(colorArb, fc.constant(null)).map((textColor): Mutation => (b) => ({ ...b, design_data: { ...b.design_data, text_color: textColor } })),
  fc.tuple(dataField, anyValue).map(([key, value]): Mutation => (b) => ({ ...b, design_data: { ...b.design_data, [key]: value } })),
  dataField.map((key): Mutation => (b) => {
    const { [key]: _removed, ...rest } = b.design_data;
    return { ...b, design_data: rest };
  }),
  fc.constantFrom('product_type', 'design_data').map((key): Mutation => (b) => {
    const { [key]: _removed, ...rest } = b;
    return rest;
  }),
  fc.tuple(fc.constantFrom('product_type', 'design_data'), anyValue).map(([key, value]): Mutation => (b) => ({ ...b, [key]: value })),
  fc.constantFrom('size', 'status', 'owner_id', 'text_colour').map((key): Mutation => (b) => ({ ...b, design_data: { ...b.design_data, [key]: 'x' } })),
  fc.constantFrom('status', 'owner_id').map((key): Mutation => (b) => ({ ...b, [key]: 'x' })),
  nonString.map((value): Mutation => () => value),
);

/** A body for POST /api/v1/designs: a valid design with up to two changes, about half of them still valid. */
export const designBodyArb: fc.Arbitrary<unknown> = fc
  .tuple(validDesignArb, fc.array(mutationArb, { maxLength: 2 }))
  .map(([body, mutations]) => mutations.reduce<unknown>((b, mutate) => (typeof b === 'object' && b !== null && !Array.isArray(b) && typeof (b as Body).design_data === 'object' && (b as Body).design_data !== null && !Array.isArray((b as Body).design_data) ? mutate(b as Body) : b), body));
