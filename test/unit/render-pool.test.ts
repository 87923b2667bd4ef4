import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { transferableSymbol, valueSymbol, type Piscina } from 'piscina';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError, ValidationError } from '../../src/errors.js';
import { renderDesignAssets, RenderPool, type DesignSpec, type RenderedImage } from '../../src/rendering/index.js';
import { deserializeError, serializeError, threadExecArgv } from '../../src/rendering/render-pool.js';
import renderInThread from '../../src/rendering/render-thread.js';
import { decode, design, hex, pixelAt } from '../fixtures/rendering/images.js';
import { PROJECT_ROOT } from '../helpers/isolated-cwd.js';

/** The seed's two PNGs among a render's renditions. */
const pngs = (images: RenderedImage[]) => {
  const png = (name: string) => images.find((image) => image.name === name && image.format === 'png')!.data;
  return { preview: png('preview'), thumbnail: png('thumbnail') };
};

describe('RenderPool: designs rendered on worker threads', () => {
  const pools: RenderPool[] = [];
  const pool = (threads = 2) => {
    const created = new RenderPool({ threads, renderOptions: { compressionLevel: 6 } });
    pools.push(created);
    return created;
  };
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  it('gives the same bytes as rendering on the calling thread', async () => {
    const spec = design({ text: 'Same <b>bytes</b> & all', color: '#0055AA', font: 'Bebas-Bold' });
    const [threaded, inline] = await Promise.all([pool().render(spec).then(pngs), renderDesignAssets(spec, { compressionLevel: 6 })]);
    expect(Buffer.isBuffer(threaded.preview)).toBe(true);
    // Each PNG owns exactly its bytes (no view into an 8 KiB pool kept alive per design).
    expect(threaded.thumbnail.buffer.byteLength).toBe(threaded.thumbnail.byteLength);
    expect(threaded.preview.equals(inline.preview)).toBe(true);
    expect(threaded.thumbnail.equals(inline.thumbnail)).toBe(true);
  });

  it('leaves libvips\' operation cache off once a thread has loaded sharp (loading sharp turns it back on, process-wide)', async () => {
    sharp.cache(false);
    await pool(1).render(design({ text: 'cache', color: '#0055AA' }));
    // libvips' cache is one per process: a thread that left it at sharp's defaults would show 50 MB / 100 items here.
    const cache = sharp.cache();
    expect(cache.memory.max).toBe(0);
    expect(cache.items.max).toBe(0);
    expect(cache.files.max).toBe(0);
  });

  it('moves a design\'s image to the thread (its buffer detached here, not copied) and renders the same bytes as the calling thread', async () => {
    const spec = design({ text: 'photo', color: '#FFFFFF' });
    const withImage = { ...spec, design_data: { ...spec.design_data, image: { upload_id: '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b' } } } as DesignSpec;
    const encoded = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 0, g: 0, b: 255 } } }).png().toBuffer();
    const image = new Uint8Array(encoded);
    const inline = await renderDesignAssets(withImage, { compressionLevel: 6 }, Buffer.from(image));
    const threaded = pngs(await pool().render(withImage, image));
    expect(image.byteLength).toBe(0); // transferred: the main thread's copy is gone
    expect(threaded.preview.equals(inline.preview)).toBe(true);
    expect(threaded.thumbnail.equals(inline.thumbnail)).toBe(true);
    expect(pixelAt(await decode(threaded.preview), 300, 170)).toEqual([0, 0, 255]);
    // A view into a shared buffer is copied instead, leaving the shared buffer intact.
    const shared = Buffer.concat([Buffer.alloc(8), encoded]);
    const view = shared.subarray(8);
    await pool().render(withImage, view);
    expect(shared.byteLength).toBe(8 + encoded.byteLength);
  });

  it('runs many designs on few threads, each answer going to its own caller', async () => {
    const colors = ['#FF0000', '#00FF00', '#0000FF', '#FFFF00', '#00FFFF', '#FF00FF', '#123456', '#FEDCBA'];
    const renders = await Promise.all(colors.map((color, i) => pool(3).render(design({ text: `design ${i}`, color })).then(pngs)));
    for (const [i, assets] of renders.entries()) {
      expect(pixelAt(await decode(assets.preview), 0, 0)).toEqual(hex(colors[i]!));
      expect(pixelAt(await decode(assets.thumbnail), 0, 0)).toEqual(hex(colors[i]!));
    }
  });

  it('rethrows a render error with its class, code and field, not retryable', async () => {
    // Unvalidated, as a job's stored design might be: the thread validates it.
    const raw = (data: Record<string, unknown>) => ({ product_type: 't-shirt', design_data: { text: 'x', font: 'Bebas-Bold', color: '#FF0000', ...data } }) as DesignSpec;
    const error = await pool().render(raw({ font: 'Comic-Sans' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'design_data.font', retryable: false });
    expect((error as ValidationError).message).toMatch(/Bebas-Bold/);
    const colorError = await pool().render(raw({ color: 'red' })).catch((e: unknown) => e);
    expect(colorError).toMatchObject({ field: 'design_data.color', retryable: false });
  });

  it('a thread that dies mid-render fails that render as retryable, and the next render gets a new thread', async () => {
    const p = pool(1);
    await p.render(design({ text: 'warm' }));
    const pending = p.render(design({ text: 'lost' }));
    const [thread] = (Reflect.get(p, 'pool') as Piscina).threads;
    await thread!.terminate();
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'RENDER_THREAD_DIED', retryable: true });
    const next = pngs(await p.render(design({ text: 'again', color: '#00FF00' })));
    expect(pixelAt(await decode(next.preview), 0, 0)).toEqual(hex('#00FF00'));
  });

  it('close lets the running render finish, rejects the waiting ones as retryable, and refuses new ones', async () => {
    const p = pool(1);
    const renders = [1, 2, 3].map((i) => p.render(design({ text: `queued ${i}` })).then(() => 'done', (e: unknown) => e));
    // Let the first reach its thread (the thread starts on the first render).
    await new Promise((resolve) => setTimeout(resolve, 0));
    await p.close();
    const [first, ...rest] = await Promise.all(renders);
    expect(first).toBe('done');
    for (const outcome of rest) expect(outcome).toMatchObject({ code: 'RENDER_POOL_CLOSED', retryable: true });
    await expect(p.render(design({}))).rejects.toMatchObject({ code: 'RENDER_POOL_CLOSED', retryable: true });
  });

  it('errors cross the thread with their class, code, field, retryability, stack and cause', () => {
    const cause = new Error('ENOENT: no such file, open /fonts/BebasNeue.ttf');
    const original = new AppError('FONT_FILE_MISSING', 'The font file is missing.', { cause, retryable: false, details: { font: 'Bebas-Bold' } });
    const back = deserializeError(structuredClone(serializeError(original)));
    expect(back).toBeInstanceOf(AppError);
    expect(back).toMatchObject({ code: 'FONT_FILE_MISSING', message: 'The font file is missing.', retryable: false, details: { font: 'Bebas-Bold' } });
    expect(back.stack).toBe(original.stack);
    expect((back.cause as Error).message).toBe(cause.message);
    expect((back.cause as Error).stack).toBe(cause.stack);
    const invalid = deserializeError(structuredClone(serializeError(new ValidationError('INVALID_COLOR', 'bad colour', 'design_data.color'))));
    expect(invalid).toBeInstanceOf(ValidationError);
    expect(invalid).toMatchObject({ field: 'design_data.color', retryable: false });
    const plain = deserializeError(structuredClone(serializeError(new TypeError('boom'))));
    expect(plain).toMatchObject({ name: 'TypeError', message: 'boom' });
    expect(plain).not.toBeInstanceOf(AppError);
  });

  it('moves the renditions out of the thread instead of copying them', async () => {
    // The thread's task, called here: what it hands piscina to transfer is every image's memory.
    const reply = (await renderInThread({ spec: design({ text: 'moved' }), options: { formats: ['png', 'webp'] } })) as unknown as Record<symbol, unknown>;
    const value = reply[valueSymbol] as { images: Array<{ name: string; format: string; data: Uint8Array }> };
    expect(value.images.map((image) => `${image.name}.${image.format}`)).toEqual(['thumbnail.png', 'thumbnail.webp', 'preview.png', 'preview.webp']);
    expect(reply[transferableSymbol]).toEqual(value.images.map((image) => image.data.buffer));
    for (const image of value.images) expect(image.data.buffer.byteLength).toBe(image.data.byteLength);
    const refused = (await renderInThread({ spec: { ...design(), design_data: { ...design().design_data, color: 'red' } }, options: {} })) as { error?: { code?: string } };
    expect(refused.error?.code).toBe('INVALID_COLOR');
  });

  /** What a one-thread pool answers for one design in a fresh `node [flags] --import tsx --input-type=module -e` process: 'ok PNG' or 'failed CODE'. */
  async function renderInFreshProcess(nodeFlags: string[]): Promise<string> {
    const script = `
      const { RenderPool, design } = { ...(await import('./src/rendering/index.ts')), ...(await import('./test/fixtures/rendering/images.ts')) };
      const pool = new RenderPool({ threads: 1 });
      const outcome = await pool.render(design({ text: 'fresh' })).then((a) => 'ok ' + a.find((i) => i.name === 'preview').data.subarray(1, 4).toString(), (e) => 'failed ' + e.code);
      await pool.close();
      console.log(outcome);`;
    const { stdout } = await promisify(execFile)(process.execPath, [...nodeFlags, '--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000, cwd: PROJECT_ROOT });
    return stdout.trim();
  }

  it('renders in a process started as `node --input-type=module -e`, whose options a thread refuses', async () => {
    // As the e2e tests start `customify serve` from the sources; a thread that cannot start
    // must fail its render (retryable), never leave it waiting.
    expect(await renderInFreshProcess([])).toBe('ok PNG');
  });

  it('renders in a process started with V8 options, which a thread refuses (node --max-old-space-size, --heap-growing-percent)', async () => {
    // An operator's heap flags (README, "Rendering: scenes") must not stop every render thread.
    expect(await renderInFreshProcess(['--max-old-space-size=512', '--heap-growing-percent=0', '--expose-gc'])).toBe('ok PNG');
  });

  it('passes a thread the module and warning options only', () => {
    expect(threadExecArgv(['--import', 'tsx', '--input-type=module', '-e', 'code'])).toEqual(['--import', 'tsx']);
    expect(threadExecArgv([
      '--import=tsx', '--max-old-space-size=512', '--heap-growing-percent=0', '--expose-gc', '--enable-source-maps', '-r', 'dotenv/config',
      '--no-warnings', '--title', 'customify', '--conditions=development', '--experimental-vm-modules', '--stack-size=2000',
    ])).toEqual(['--import=tsx', '--enable-source-maps', '-r', 'dotenv/config', '--no-warnings', '--conditions=development', '--experimental-vm-modules']);
    expect(threadExecArgv(['--input-type', 'module', '--eval', 'code', '-p', 'x'])).toEqual([]);
  });

  it('refuses a pool without threads', () => {
    expect(() => new RenderPool({ threads: 0 })).toThrow(RangeError);
  });
});
