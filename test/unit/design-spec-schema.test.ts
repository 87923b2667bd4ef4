import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { createDesignBody } from '../../src/http/schemas.js';
import { normalizeLineBreaks, validateDesignSpec } from '../../src/rendering/index.js';
import { designBodyArb } from '../helpers/design-arbitraries.js';

/**
 * The HTTP route validates a design with a JSON Schema and the domain with its own guard
 * (designs also come from the CLI and the database). Both must accept exactly the same
 * designs, or the API refuses what its document promises, or stores what a render refuses.
 */

// The options app.ts gives Fastify's ajv: no coercion, nothing removed.
const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false });
const schemaAccepts = ajv.compile(createDesignBody);

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

  it('the domain returns what the schema accepted, its line breaks written as \\n', () => {
    fc.assert(
      fc.property(designBodyArb, (body) => {
        fc.pre(schemaAccepts(body));
        const { design_data: data } = body as { design_data: { text: string } };
        expect(validateDesignSpec(body)).toEqual({ ...(body as object), design_data: { ...data, text: normalizeLineBreaks(data.text) } });
      }),
      { numRuns: 500 },
    );
  });
});
