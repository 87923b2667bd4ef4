import { parseArgs } from 'node:util';
import { buildContainer, type Container } from '../composition-root.js';
import type { Settings } from '../config.js';
import { AppError } from '../errors.js';
import { silentLogger } from '../logger.js';
import type { Delivery } from '../webhooks/index.js';

/**
 * `customify webhooks <subcommand>`: the webhook delivery log (src/webhooks/delivery-log.ts).
 *
 * - `list [--limit N]`: the most recent events, newest first: id, type, status, attempts, the
 *   last HTTP status (or - when none came back), the next attempt (pending ones) and the last error.
 * - `replay EVENT_ID`: sends the event again now, whatever its status (a delivered one too),
 *   from this process, and prints what the receiver answered. Its retry window starts again.
 *   Exit 0 when the receiver took it (2xx); 1 otherwise (unknown id, being sent right now,
 *   or not taken: it then stays pending and the workers retry it).
 */

type Print = (line: string) => void;

const DEFAULT_LIMIT = 50;

export function webhooksHelp(): string {
  return [
    'Usage: customify webhooks <subcommand>',
    '',
    'The webhook delivery log (WEBHOOK_URL):',
    `  list [--limit N]   The most recent events, newest first (default ${DEFAULT_LIMIT}, at most 1000): event id, type, status, attempts, last HTTP status, next attempt, last error`,
    '  replay EVENT_ID    Send the event again now (even if delivered) and print the answer; exit 1 unless the receiver answered 2xx',
  ].join('\n');
}

/** `customify webhooks ...`: returns the exit code; AppError (exit 1) for an unknown event or a failed replay. */
export async function webhooksCommand(args: string[], loadSettings: () => Readonly<Settings>, print: Print): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { limit: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${webhooksHelp()}`);
    return 2;
  }
  const [name, ...rest] = parsed.positionals;
  if (parsed.values.help || !name) {
    print(webhooksHelp());
    return parsed.values.help ? 0 : 2;
  }
  const usage = (message: string) => {
    console.error(`${message}\n\n${webhooksHelp()}`);
    return 2;
  };
  if (name === 'list') {
    if (rest.length > 0) return usage(`Unexpected argument "${rest[0]}".`);
    const limitText = parsed.values.limit ?? String(DEFAULT_LIMIT);
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > 1000) return usage(`--limit must be a whole number from 1 to 1000, got ${JSON.stringify(limitText)}.`);
    return withContainer(loadSettings(), async (container) => listDeliveries(await container.webhooks.log.list(limit), print));
  }
  if (name === 'replay') {
    if (parsed.values.limit !== undefined) return usage('--limit is an option of list, not of replay.');
    if (rest.length !== 1) return usage(rest.length === 0 ? 'Missing EVENT_ID.' : `Unexpected argument "${rest[1]}".`);
    return withContainer(loadSettings(), (container) => replay(container, rest[0]!, print));
  }
  return usage(`Unknown webhooks subcommand "${name}".`);
}

async function withContainer(settings: Readonly<Settings>, run: (container: Container) => Promise<number>): Promise<number> {
  const container = await buildContainer(settings, { logger: silentLogger, role: 'cli' });
  try {
    return await run(container);
  } finally {
    await container.close();
  }
}

function listDeliveries(deliveries: Delivery[], print: Print): number {
  if (deliveries.length === 0) {
    print('No webhook events recorded yet.');
    return 0;
  }
  const rows = deliveries.map((d) => [
    d.eventId, d.type, d.status, String(d.attempts), d.lastStatusCode === null ? '-' : String(d.lastStatusCode),
    d.status === 'pending' ? d.nextAttemptAt.toISOString() : '-',
    d.lastError ? oneLine(d.lastError) : '-',
  ]);
  const header = ['EVENT_ID', 'TYPE', 'STATUS', 'ATTEMPTS', 'LAST_CODE', 'NEXT_ATTEMPT', 'LAST_ERROR'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) print(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  return 0;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 100 ? `${flat.slice(0, 99)}…` : flat;
}

async function replay(container: Container, eventId: string, print: Print): Promise<number> {
  const { log, deliver } = container.webhooks;
  if (!deliver) {
    throw new AppError('WEBHOOKS_NOT_CONFIGURED', 'WEBHOOK_URL is not set, so there is nowhere to send the event: set WEBHOOK_URL and WEBHOOK_SECRET (README.md, Webhooks).', { field: 'WEBHOOK_URL' });
  }
  const state = await log.replay(eventId, Date.now());
  if (state === 'missing') {
    throw new AppError('WEBHOOK_EVENT_NOT_FOUND', `No webhook event ${JSON.stringify(eventId)} in the delivery log: customify webhooks list shows the recorded ids.`, { field: 'EVENT_ID' });
  }
  const attempt = state === 'ready' ? await deliver(eventId, { inOrder: false }) : undefined;
  if (!attempt || attempt.outcome === 'skipped') {
    throw new AppError('WEBHOOK_BUSY', `Webhook event ${eventId} is being sent right now by a worker; run customify webhooks list to see how it went, or replay it again in a few seconds.`, { field: 'EVENT_ID', retryable: true });
  }
  const answer = attempt.result?.statusCode ? `HTTP ${attempt.result.statusCode}` : 'no answer';
  if (attempt.outcome === 'delivered') {
    print(`Webhook ${eventId} (${attempt.delivery!.type}) delivered to WEBHOOK_URL: ${answer}.`);
    return 0;
  }
  const error = attempt.result?.outcome === 'failed' ? attempt.result.error : attempt.outcome === 'gone' ? 'Answered 410 Gone: not sent again.' : 'Not sent (older than WEBHOOK_MAX_AGE).';
  const after = attempt.outcome === 'retry' ? ' It stays pending and is retried by the workers (customify webhooks list shows when).' : '';
  throw new AppError('WEBHOOK_NOT_DELIVERED', `Webhook ${eventId} was not delivered: ${error}${after}`, { field: 'EVENT_ID' });
}
