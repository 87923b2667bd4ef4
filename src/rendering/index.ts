/**
 * Rendering: pure image work with sharp. A design spec goes in, PNG bytes come out;
 * no storage, no database, no settings read here.
 */
export { BLACK, HEX_COLOR_PATTERN, WHITE, contrastRatio, contrastingTextColor, formatColor, parseColor, relativeLuminance } from './colors.js';
export type { ColorField, Rgb } from './colors.js';
export {
  IMAGE_FITS,
  IMAGE_POSITIONS,
  MAX_IMAGE_SIZE,
  MIN_IMAGE_SIZE,
  resolvePlacement,
  MAX_TEXT_LENGTH,
  MAX_TEXT_LINES,
  PRODUCT_TYPES,
  DESIGN_DATA_RULES,
  TEXT_RULES,
  assertionRule,
  designWarnings,
  designSpecJsonSchema,
  designSpecSchema,
  patternRule,
  validateDesignSpec,
} from './design-spec.js';
export type { CheckedDesignData, DesignData, DesignSpec, DesignWarning, FieldRule, ImageFit, ImagePosition, ProductType, ResolvedPlacement } from './design-spec.js';
export { FONT_NAMES, SUPPORTED_SCRIPTS, isFontName, resolveFont } from './fonts.js';
export type { FontName, ResolvedFont } from './fonts.js';
export {
  MIN_TEXT_CONTRAST,
  checkFontCoverage,
  checkLineCount,
  checkTextContrast,
  checkVisibleText,
  countLines,
  drawableRanges,
  drawableTextPattern,
  normalizeLineBreaks,
  validateDesignText,
} from './text-rules.js';
export type { TextRuleViolation } from './text-rules.js';
export { MAX_PREVIEW_SIZE, PREVIEW_SIZE, renderDesign, renderDesignAssets } from './render-design.js';
export type { AssetRenderOptions, DesignAssets, RenderOptions } from './render-design.js';
export { RenderPool } from './render-pool.js';
export { AVIF_OPTIONS, EAGER_FILES, WEBP_FLAT_OPTIONS, WEBP_OPTIONS, encodeWeb, renderRenditions, renditionPlan, webOutput } from './renditions.js';
export type { RenderedImage, RenditionFileName, RenditionRenderOptions } from './renditions.js';
export { DEFAULT_IMAGE_FORMATS, DEFAULT_RENDITIONS, IMAGE_CONTENT_TYPES, IMAGE_FORMATS, SEED_RENDITIONS, WEB_IMAGE_FORMATS, WEB_RENDITIONS, parseImageFormats, parseRenditions } from './rendition-config.js';
export type { ImageFormat, Rendition } from './rendition-config.js';
export { loadWatermark, watermarks, withWatermark } from './watermark.js';
export type { Watermark, WatermarkSettings } from './watermark.js';
export { disableSharpCache } from './sharp-settings.js';
export type { RenderPoolOptions } from './render-pool.js';
export { DEFAULT_COMPRESSION_LEVEL, THUMBNAIL_MAX_SIZE, makeThumbnail } from './thumbnail.js';
export type { RawImage, ThumbnailOptions } from './thumbnail.js';
export { designScene, FIT_MODES } from './scene.js';
export type { FitMode, ImageLayer, Layer, Rect, Scene, TextLayer } from './scene.js';
export { encodeScene, MAX_SCENE_SIDE, prepareScene, renderScene, SCENE_FORMATS, scenePixels } from './scene-renderer.js';
export type { PreparedScene, SceneFormat, SceneOutput } from './scene-renderer.js';
