/**
 * Our render flow, the counterpart of bench/pillow_flow.py: N designs rendered and
 * thumbnailed with the production renderer and, with --store OUT, stored through the real
 * storage layer (local driver: atomic, fsynced writes). Prints one JSON line like the Python script.
 * --fixed draws the seed's 48 px type instead of text as large as fits (see renderFixed).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/logger.js';
import { designScene, encodeScene, prepareScene, renderDesignAssets, validateDesignSpec, type DesignAssets, type DesignSpec } from '../src/rendering/index.js';
import { sceneThumbnail } from '../src/rendering/thumbnail.js';
import { DesignAssetStorage, ObjectStorage } from '../src/storage/index.js';
import { LocalDriver } from '../src/storage/local.driver.js';

const COLORS = ['#FF0000', '#0055AA', '#FFFFFF', '#222222', '#33CC66'];
const { values } = parseArgs({
  options: { n: { type: 'string', default: '200' }, store: { type: 'string' }, fsync: { type: 'string', default: 'true' }, font: { type: 'string', default: 'Roboto-Bold' }, fixed: { type: 'boolean', default: false } },
});
const n = Number(values.n);
const storage = values.store
  ? new DesignAssetStorage(new ObjectStorage(new LocalDriver({ root: values.store, publicBaseUrl: 'http://localhost:8000', durable: values.fsync !== 'false' }), silentLogger), { publicBucket: true, signedUrlExpiresSeconds: 3600 }, silentLogger)
  : undefined;
const spec = (i: number) => validateDesignSpec({ product_type: 't-shirt', design_data: { text: `Custom Text ${i}`, font: values.font, color: COLORS[i % COLORS.length] } });

/**
 * --fixed: the seed's 48 px type, as before issue 9.8 (text only shrinks to fit, never
 * grows), for the like-for-like figure against `pillow_flow.py --fixed`: renderDesignAssets'
 * own steps with the scene's largest size set to 48 px.
 */
async function renderFixed(design: DesignSpec, options: { compressionLevel: number }): Promise<DesignAssets> {
  const scene = designScene(design, 600);
  const prepared = await prepareScene({ ...scene, layers: scene.layers.map((layer) => (layer.kind === 'text' ? { ...layer, fontSize: 48 } : layer)) });
  const thumbnail = sceneThumbnail(prepared, options);
  const preview = encodeScene(prepared, options);
  const [previewPng, thumbnailPng] = await Promise.all([preview, thumbnail]);
  return { preview: previewPng, thumbnail: thumbnailPng };
}
const render = values.fixed ? renderFixed : renderDesignAssets;

await render(spec(0), { compressionLevel: 6 });
let previewBytes = 0;
let thumbnailBytes = 0;
const start = performance.now();
for (let i = 0; i < n; i++) {
  const { preview, thumbnail } = await render(spec(i), { compressionLevel: 6 });
  previewBytes += preview.length;
  thumbnailBytes += thumbnail.length;
  if (storage) {
    const id = randomUUID();
    await Promise.all([storage.uploadDesignPreview(id, preview), storage.uploadDesignThumbnail(id, thumbnail)]);
  }
}
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ n, seconds, preview_bytes: previewBytes / n, thumbnail_bytes: thumbnailBytes / n }));
