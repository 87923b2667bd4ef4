import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { DEFAULT_PRINT_SPECS, designPrintScene } from '../../src/print/index.js';
import { validateDesignSpec } from '../../src/rendering/design-spec.js';

const upload = '0b5c4a4e-8a8f-4c1e-9d55-3f7c1c2a9b10';

describe('designPrintScene', () => {
  it('lays out a text design on the product\'s print canvas', () => {
    const spec = validateDesignSpec({ product_type: 't-shirt', design_data: { text: 'Hello', font: 'Roboto-Bold', color: '#FFFFFF' } });
    const print = designPrintScene(spec, DEFAULT_PRINT_SPECS['t-shirt']);
    expect({ width: print.scene.width, height: print.scene.height, background: print.scene.background }).toEqual({ width: 3600, height: 4800, background: 'transparent' });
    expect(print.layout.lines.map((line) => line.text)).toEqual(['Hello']);
  });

  it.each([
    ['an image and text', { text: 'Hello', font: 'Roboto-Bold', color: '#FFFFFF', image: { upload_id: upload } }],
    ['an image only', { font: 'Roboto-Bold', color: '#FFFFFF', image: { upload_id: upload } }],
  ])('refuses a design with %s (PRINT_IMAGE_UNSUPPORTED, naming design_data.image) rather than printing it without its image', (_name, designData) => {
    const spec = validateDesignSpec({ product_type: 'poster', design_data: designData });
    let thrown: unknown;
    try {
      designPrintScene(spec, DEFAULT_PRINT_SPECS.poster);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({ code: 'PRINT_IMAGE_UNSUPPORTED', field: 'design_data.image' });
  });
});
