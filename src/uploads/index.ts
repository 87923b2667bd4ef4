export {
  AVATAR_SIZES,
  DEFAULT_MAX_INPUT_PIXELS,
  inspectImage,
  normaliseImage,
  writeAvatarSizes,
  writeSquare,
  type EncodedImage,
  type ImageDestination,
  type ImageHeader,
  type ImageLimits,
  type ImageSource,
  type SquareOptions,
} from './normalise.js';
export { MarkupDetector, SNIFF_BYTES, findMarkup, heicDecodable, sniff, type ImageFormat, type SniffedType } from './sniff.js';
export { UploadRejectedError, isUploadRejectedError, type RejectionReason } from './upload-errors.js';
