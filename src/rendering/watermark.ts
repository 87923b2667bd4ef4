// Placeholder: replaced by the watermark module (issue #13).
import type { Scene } from './scene.js';

export interface Watermark {
  readonly text: string | null;
  readonly image: { readonly input: Buffer; readonly width: number; readonly height: number } | null;
  readonly opacity: number;
  readonly placement: 'tile' | 'corner';
  readonly minSize: number;
}

export function withWatermark(scene: Scene, _watermark: Watermark): Scene {
  return scene;
}

export function watermarks(watermark: Watermark | null, size: number): boolean {
  return watermark !== null && size >= watermark.minSize;
}

export function loadWatermark(_settings: unknown): Promise<Watermark | null> {
  return Promise.resolve(null);
}
