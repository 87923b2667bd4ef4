/**
 * Our render flow, the counterpart of bench/pillow_flow.py: N designs rendered and
 * thumbnailed with the production renderer and, with --store OUT, stored through the real
 * storage layer (local driver: atomic, fsynced writes). Prints one JSON line like the Python script.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/logger.js';
import { renderDesignAssets, validateDesignSpec } from '../src/rendering/index.js';
import { DesignAssetStorage, ObjectStorage } from '../src/storage/index.js';
import { LocalDriver } from '../src/storage/local.driver.js';

const COLORS = ['#FF0000', '#0055AA', '#FFFFFF', '#222222', '#33CC66'];
const { values } = parseArgs({ options: { n: { type: 'string', default: '200' }, store: { type: 'string' }, fsync: { type: 'string', default: 'true' }, font: { type: 'string', default: 'Roboto-Bold' } } });
const n = Number(values.n);
const storage = values.store
  ? new DesignAssetStorage(new ObjectStorage(new LocalDriver({ root: values.store, publicBaseUrl: 'http://localhost:8000', durable: values.fsync !== 'false' }), silentLogger), { publicBucket: true, signedUrlExpiresSeconds: 3600 }, silentLogger)
  : undefined;
const spec = (i: number) => validateDesignSpec({ product_type: 't-shirt', design_data: { text: `Custom Text ${i}`, font: values.font, color: COLORS[i % COLORS.length] } });

await renderDesignAssets(spec(0));
let previewBytes = 0;
let thumbnailBytes = 0;
const start = performance.now();
for (let i = 0; i < n; i++) {
  const { preview, thumbnail } = await renderDesignAssets(spec(i), { compressionLevel: 6 });
  previewBytes += preview.length;
  thumbnailBytes += thumbnail.length;
  if (storage) {
    const id = randomUUID();
    await Promise.all([storage.uploadDesignPreview(id, preview), storage.uploadDesignThumbnail(id, thumbnail)]);
  }
}
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ n, seconds, preview_bytes: previewBytes / n, thumbnail_bytes: thumbnailBytes / n }));
