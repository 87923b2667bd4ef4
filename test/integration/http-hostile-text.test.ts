import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { DesignView } from '../../src/designs/design-service.js';
import { authHeaders, createTestApp, type TestApp } from '../helpers/app.js';

/**
 * Text built to break the renderer, through the API: what cannot be drawn is refused with a
 * 400 naming design_data.text (POST /designs and POST /previews alike); what is accepted
 * renders its preview, its renditions and its print files.
 */

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

interface ErrorJson { error: { code: string; message: string; field?: string } }

const design = (text: string) => ({ product_type: 't-shirt', design_data: { text, font: 'Roboto-Bold', color: '#FFFFFF' } });

describe('hostile design text through the API', () => {
  it('refuses 100 x U+FDFD and a 31-mark zalgo stack with a 400 naming design_data.text, on POST /designs and POST /previews alike', async () => {
    t = await createTestApp({ background: false });
    for (const [text, code, says] of [
      ['\uFDFD'.repeat(100), 'UNSUPPORTED_CHARACTERS', 'type the phrase in Arabic letters instead'],
      [`H${'\u030D'.repeat(31)}`, 'TOO_MANY_MARKS', 'Remove the extra accents'],
    ] as const) {
      for (const url of ['/api/v1/designs', '/api/v1/previews']) {
        const res = await t.app.inject({ method: 'POST', url, headers: await authHeaders(), payload: design(text) });
        expect(res.statusCode, `${url} ${code}`).toBe(400);
        const { error } = res.json<ErrorJson>();
        expect([error.code, error.field], url).toEqual([code, 'design_data.text']);
        expect(error.message).toContain(says);
      }
    }
  });

  it('renders what it accepts: a preview, a published design and its print files for a run of 200 three-em dashes', async () => {
    t = await createTestApp();
    const body = design('\u2E3B'.repeat(200));
    const preview = await t.app.inject({ method: 'POST', url: '/api/v1/previews', headers: await authHeaders(), payload: body });
    expect(preview.statusCode, preview.body).toBe(200);
    const meta = await sharp(preview.rawPayload).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 600, 600]);

    const created = await t.createDesign(body);
    const published = await t.waitForStatus(created.id, 'PUBLISHED');
    expect(published.error ?? null).toBeNull();
    const print = await t.app.inject({ method: 'POST', url: `/api/v1/designs/${created.id}/print-files`, headers: await authHeaders() });
    expect(print.statusCode, print.body).toBe(202);
    const deadline = Date.now() + 30_000;
    let view: DesignView;
    for (;;) {
      view = (await t.app.inject({ method: 'GET', url: `/api/v1/designs/${created.id}`, headers: await authHeaders() })).json<DesignView>();
      if (view.print_status !== 'PENDING' || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(view).toMatchObject({ print_status: 'READY', print_message: null });
  }, 60_000);
});
