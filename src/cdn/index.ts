export { createCdnInvalidator, type CdnInvalidator, type CdnInvalidatorDeps, type CdnObserver } from './cdn-invalidator.js';
export { cloudFrontClientConfig, type CloudFrontSettings } from './cloudfront.sender.js';
export { invalidationPath, invalidationPaths, MAX_PATHS_PER_REQUEST, MAX_WILDCARDS_PER_REQUEST } from './invalidation-paths.js';
