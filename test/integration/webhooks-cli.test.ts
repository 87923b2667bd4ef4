import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildContainer } from '../../src/composition-root.js';
import { configFrom } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { verifySignature, type WebhookBody } from '../../src/webhooks/index.js';
import { SAMPLE_DESIGN, TEST_JWT_SECRET } from '../helpers/app.js';
import { customifyNodeArgs, isolatedCwd } from '../helpers/isolated-cwd.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';
import { eventually, WebhookReceiver } from './webhooks-receiver.js';
import { runCli, type CliRun } from '../helpers/cli.js';

/**
 * `customify webhooks list` and `customify webhooks replay` through the real dispatcher, on a
 * delivery log a real `serve` container filled; and a bad WEBHOOK_* configuration refused by
 * `customify serve` at start, naming the variable.
 */

const SECRET = 'whsec-cli-0123456789abcdef';
const run = promisify(execFile);

let dir: string;
let receiver: WebhookReceiver;
let env: Record<string, string>;

beforeEach(async () => {
  dir = await createTempDir('webhooks-cli');
  receiver = new WebhookReceiver();
  await receiver.listen();
  env = {
    NODE_ENV: 'development', USE_LOCAL_STORAGE: 'true', LOCAL_STORAGE_PATH: path.join(dir, 'storage'), DATA_DIR: path.join(dir, 'data'),
    DATABASE_URL: `sqlite:${path.join(dir, 'db.sqlite')}`, REDIS_URL: '', JWT_SECRET: TEST_JWT_SECRET, JWKS_URL: '', CLOUDFRONT_DOMAIN: '', LOG_LEVEL: 'silent',
    RENDER_BACKOFF_MS: '10', WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_BACKOFF: '50ms', WEBHOOK_TIMEOUT: '2s',
  };
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await receiver.close();
  await removeTempDir(dir);
});

/** Runs `customify ...args` with a fresh configuration read from the test's env plus `overrides`. */
function customify(args: string[], overrides: Record<string, string> = {}): Promise<CliRun> {
  return runCli(args, { ...env, ...overrides });
}

/** A design published and its design.published delivered by a real serve container; returns the event id. */
async function deliveredEvent(): Promise<string> {
  const container = await buildContainer(configFrom(env), { logger: silentLogger, role: 'serve' });
  try {
    await container.startBackground();
    await container.service.create('user-a', SAMPLE_DESIGN);
    const delivery = await eventually('the delivery', async () => {
      const [d] = await container.webhooks.log.list();
      return d?.status === 'delivered' ? d : undefined;
    });
    return delivery.eventId;
  } finally {
    await container.close();
  }
}

describe('customify webhooks', () => {
  it('list shows recent deliveries: event id, type, status, attempts, last code, next attempt', async () => {
    const eventId = await deliveredEvent();
    const listed = await customify(['webhooks', 'list']);
    expect(listed).toMatchObject({ code: 0, err: [] });
    expect(listed.out[0]).toMatch(/^EVENT_ID\s+TYPE\s+STATUS\s+ATTEMPTS\s+LAST_CODE\s+NEXT_ATTEMPT\s+LAST_ERROR$/);
    expect(listed.out[1]).toMatch(new RegExp(`^${eventId}\\s+design\\.published\\s+delivered\\s+1\\s+200\\s+-\\s+-$`));
  });

  it('replay sends a delivered event again now, freshly signed, and records the attempt', async () => {
    const eventId = await deliveredEvent();
    expect(receiver.requests).toHaveLength(1);
    const replayed = await customify(['webhooks', 'replay', eventId]);
    expect(replayed).toMatchObject({ code: 0, err: [] });
    expect(replayed.out).toEqual([`Webhook ${eventId} (design.published) delivered to WEBHOOK_URL: HTTP 200.`]);
    expect(receiver.requests).toHaveLength(2);
    const [first, second] = receiver.requests.map((r) => {
      expect(verifySignature({ secret: SECRET, header: r.headers['customify-signature'] as string, body: r.body })).toBe(true);
      return JSON.parse(r.body) as WebhookBody;
    });
    expect(second).toEqual(first);
    const listed = await customify(['webhooks', 'list']);
    expect(listed.out[1]).toMatch(new RegExp(`^${eventId}\\s+design\\.published\\s+delivered\\s+2\\s+200`));
  });

  it('replay of a receiver that fails says so and exits 1; the event stays pending for the workers', async () => {
    const eventId = await deliveredEvent();
    receiver.answer = () => ({ status: 503 });
    const replayed = await customify(['webhooks', 'replay', eventId]);
    expect(replayed.code).toBe(1);
    expect(replayed.err).toEqual([expect.stringMatching(new RegExp(`^customify webhooks: Webhook ${eventId} was not delivered: Answered 503.*stays pending`))]);
    const listed = await customify(['webhooks', 'list']);
    expect(listed.out[1]).toMatch(new RegExp(`^${eventId}\\s+design\\.published\\s+pending\\s+2\\s+503\\s+\\d{4}-`));
  });

  it('replay of an unknown id says so and exits 1; usage errors exit 2', async () => {
    const unknown = await customify(['webhooks', 'replay', 'evt_nope']);
    expect(unknown).toEqual({ code: 1, out: [], err: ['customify webhooks: No webhook event "evt_nope" in the delivery log: customify webhooks list shows the recorded ids.'] });
    const notConfigured = await customify(['webhooks', 'replay', 'evt_nope'], { WEBHOOK_URL: '', WEBHOOK_SECRET: '' });
    expect(notConfigured.code).toBe(1);
    expect(notConfigured.err[0]).toMatch(/WEBHOOK_URL is not set/);
    expect((await customify(['webhooks', 'replay'])).code).toBe(2);
    expect((await customify(['webhooks', 'list', '--limit', 'many'])).code).toBe(2);
    expect((await customify(['webhooks', 'resend'])).code).toBe(2);
    expect(await customify(['webhooks', 'list'])).toEqual({ code: 0, out: ['No webhook events recorded yet.'], err: [] });
  });
});

describe('customify serve with a bad webhook configuration', () => {
  it.each([
    ['ftp://example.com/hooks', SECRET, 'WEBHOOK_URL must be an http:// or https:// URL, not ftp://'],
    ['https://shop.example.com/hooks', '', 'WEBHOOK_SECRET is empty while WEBHOOK_URL is set'],
  ])('WEBHOOK_URL=%s WEBHOOK_SECRET=%s: refused at start, naming the variable', async (url, secret, message) => {
    const started = run(process.execPath, customifyNodeArgs(['serve']), {
      cwd: isolatedCwd(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: '0', WEBHOOK_URL: url, WEBHOOK_SECRET: secret },
      timeout: 20_000,
    });
    const failure = await started.then(() => undefined, (error: { code?: number; stderr?: string; stdout?: string }) => error);
    expect(failure).toBeDefined();
    expect(failure!.code).not.toBe(0);
    expect(`${failure!.stdout ?? ''}${failure!.stderr ?? ''}`).toContain(message);
  });
});
