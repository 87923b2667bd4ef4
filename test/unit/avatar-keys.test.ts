import { describe, expect, it } from 'vitest';
import { avatarKeys, avatarUserSegment } from '../../src/avatars/avatar.js';
import { assertValidKey } from '../../src/storage/keys.js';

const UPLOAD = '3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b';

describe('avatar keys', () => {
  it('are avatars/{user}/{upload_id}/{size}.{format}, the user id as it is when plain', () => {
    expect(avatarKeys.image('user-a', UPLOAD, 512, 'webp')).toBe(`avatars/user-a/${UPLOAD}/512.webp`);
    expect(avatarKeys.prefix('user_B-9', UPLOAD)).toBe(`avatars/user_B-9/${UPLOAD}/`);
  });

  it('give every user id, however hostile or long, one valid folder of its own', () => {
    const ids = ['user-a', 'auth0|123', 'a@b.example', '..', '.', '/', 'a/b', '!x', '!!x', 'x'.repeat(128), 'x'.repeat(129), 'é', '\u0000', ' ', 'y'.repeat(5000), 'y'.repeat(5001)];
    const segments = ids.map(avatarUserSegment);
    expect(new Set(segments).size).toBe(ids.length);
    for (const [i, id] of ids.entries()) {
      const key = avatarKeys.image(id, UPLOAD, 64, 'png');
      expect(assertValidKey(key), JSON.stringify(id)).toBe(key);
      expect(key.split('/')).toHaveLength(4);
      expect(segments[i]!.length).toBeLessThanOrEqual(130);
      expect(avatarUserSegment(id)).toBe(segments[i]);
    }
    expect(avatarUserSegment('auth0|123')).toBe(`!${Buffer.from('auth0|123').toString('base64url')}`);
    expect(avatarUserSegment('y'.repeat(5000))).toMatch(/^!![0-9a-f]{64}$/);
  });

  it('refuse an upload id that is not a UUID', () => {
    expect(() => avatarKeys.prefix('user-a', '../x')).toThrow(/UUID/);
  });
});
