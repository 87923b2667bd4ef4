export { AVATAR_FORMATS, AVATAR_SIZES, AVATARS_PREFIX, avatarKeys, avatarUserSegment, type AvatarFormat, type AvatarSize } from './avatar.js';
export { AvatarPublisher, type AvatarPublisherDeps } from './avatar-publisher.js';
export { AvatarRepository } from './avatar-repository.js';
export { AvatarService, type AvatarServiceDeps, type AvatarUrls, type AvatarView } from './avatar-service.js';
