import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { designSpecJsonSchema, normalizeLineBreaks, validateDesignSpec } from '../../src/rendering/index.js';
import { designBodyArb } from '../helpers/design-arbitraries.js';

/**
 * The HTTP route validates a design with a JSON Schema and the domain with its own guard
 * (designs also come from the CLI and the database). Both must accept exactly the same
 * designs, or the API refuses what its document promises, or stores what a render refuses.
 */

// The options app.ts gives Fastify's ajv: no coercion, nothing removed.
const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false });
// The route's body is this schema plus the design's `watermark` flag (src/http/schemas.ts).
const schemaAccepts = ajv.compile(designSpecJsonSchema());

function domainAccepts(input: unknown): boolean {
  try {
    validateDesignSpec(input);
    return true;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return false;
  }
}

describe('the design schema of POST /api/v1/designs and the domain guard', () => {
  it('accept exactly the same designs (generated designs, valid and broken)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(designBodyArb, (body) => {
        const bySchema = schemaAccepts(body);
        if (bySchema) accepted += 1;
        expect(domainAccepts(body), `schema says ${bySchema} for ${JSON.stringify(body)}`).toBe(bySchema);
      }),
      { numRuns: 3000 },
    );
    // Both sides of the equivalence were exercised.
    expect(accepted).toBeGreaterThan(300);
    expect(accepted).toBeLessThan(2700);
  });

  it.each([
    ['a blank text', { text: ' \u3000 ' }],
    ['a text with a control character', { text: 'a\u0007' }],
    ['11 lines', { text: Array(11).fill('l').join('\n') }],
    ['a null text_color', { text_color: null }],
    ['a lone surrogate', { text: 'a\ud800' }],
    ['invisible characters only', { text: '\u200b\u2060\ufe0f\u3164' }],
    ['10 lines broken by CR LF', { text: Array(10).fill('l').join('\r\n') }],
    ['11 lines broken by U+2028', { text: Array(11).fill('l').join('\u2028') }],
    ['11 lines broken by CR, VT, FF and NEL', { text: 'a\rb\u000bc\u000cd\u0085e\rf\rg\rh\ri\rj\rk' }],
    ['CR LF and a lone CR', { text: 'a\r\n\rb' }],
    ['a tab', { text: 'a\tb' }],
    ['Georgian, which no bundled font draws', { text: 'Hi გამარჯობა' }],
    ['a private-use character some fonts have', { text: 'Hi \uf8ff' }],
    ['a combining mark from another script', { text: 'a\u064e' }],
    ['a low-contrast text_color (a warning, not a refusal)', { color: '#FF0000', text_color: '#f00' }],
  ])('agree on %s', (_case, patch) => {
    const body = { product_type: 'mug', design_data: { text: 'Hi', font: 'Roboto-Bold', color: '#000', ...patch } };
    expect(domainAccepts(body)).toBe(schemaAccepts(body));
  });

  const image = { upload_id: '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b' };
  it.each([
    ['an image without text', { text: undefined, image }, true],
    ['an image with text and a full placement', { image: { ...image, placement: { position: 'behind', size: 1, fit: 'cover' } } }, true],
    ['neither text nor image', { text: undefined }, false],
    ['an image with an empty text (text, when present, keeps its rules)', { text: '', image }, false],
    ['an image whose upload_id is not a UUID', { image: { upload_id: 'photo.jpg' } }, false],
    ['an image without upload_id', { image: { placement: {} } }, false],
    ['a placement size below 0.1', { image: { ...image, placement: { size: 0.05 } } }, false],
    ['a placement size above 1', { image: { ...image, placement: { size: 1.01 } } }, false],
    ['an unknown position', { image: { ...image, placement: { position: 'center' } } }, false],
    ['an unknown placement field', { image: { ...image, placement: { opacity: 1 } } }, false],
    ['an image given as a URL', { image: { ...image, url: 'https://example.com/a.png' } }, false],
  ])('agree on %s (accepted: %s)', (_case, patch, accepted) => {
    const body = { product_type: 'mug', design_data: { text: 'Hi', font: 'Roboto-Bold', color: '#000', ...patch } };
    expect(schemaAccepts(body)).toBe(accepted);
    expect(domainAccepts(body)).toBe(accepted);
  });

  it.each([
    [{ text: undefined }, 'FIELD_REQUIRED', 'design_data.text', /design_data.image/],
    [{ image: { upload_id: 'photo.jpg' } }, 'INVALID_UPLOAD_ID', 'design_data.image.upload_id', /UUID/],
    [{ image: { ...image, placement: { size: 2 } } }, 'INVALID_VALUE', 'design_data.image.placement.size', /0.1 to 1, got 2/],
    [{ image: { ...image, placement: { fit: 'fill' } } }, 'INVALID_VALUE', 'design_data.image.placement.fit', /contain, cover/],
  ])('the domain names the field and says what to send: %j', (patch, code, field, message) => {
    const body = { product_type: 'mug', design_data: { text: 'Hi', font: 'Roboto-Bold', color: '#000', ...patch } };
    const error = (() => {
      try {
        validateDesignSpec(JSON.parse(JSON.stringify(body)));
        return null;
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(error).toMatchObject({ code, field });
    expect(error?.message).toMatch(message);
  });

  it('the domain returns what the schema accepted, its line breaks written as \\n', () => {
    fc.assert(
      fc.property(designBodyArb, (body) => {
        fc.pre(schemaAccepts(body));
        const { design_data: data } = body as { design_data: { text?: string } };
        const text = data.text === undefined ? {} : { text: normalizeLineBreaks(data.text) };
        expect(validateDesignSpec(body)).toEqual({ ...(body as object), design_data: { ...data, ...text } });
      }),
      { numRuns: 500 },
    );
  });
});
