import { describeError } from '../errors.js';
import { signatureHeader } from './webhook-signature.js';

export interface WebhookTarget {
  url: string;
  secret: string;
  /** The whole request: connect, send, and the answer's status line and headers. */
  timeoutMs: number;
}

/** What one POST came to. */
export type SendResult =
  | { outcome: 'delivered'; statusCode: number }
  /** 410 Gone: the receiver asks for no more of this event; it is not sent again (unless replayed). */
  | { outcome: 'gone'; statusCode: 410 }
  /** Anything else: a 3xx (never followed), 4xx, 5xx, a timeout, a refused or reset connection. Retried. */
  | { outcome: 'failed'; statusCode: number | null; error: string };

export interface OutgoingEvent {
  eventId: string;
  type: string;
  /** The JSON body, sent byte for byte as stored (the signature covers these bytes). */
  body: string;
}

/**
 * POSTs one event, signed at the moment it is sent (Customify-Timestamp is the send time,
 * so a receiver's tolerance window works for retries and replays too). Never throws: every
 * way it can end is a SendResult.
 */
export async function sendWebhook(target: WebhookTarget, event: OutgoingEvent, nowMs = Date.now()): Promise<SendResult> {
  const timestamp = Math.floor(nowMs / 1000);
  let response: Response;
  try {
    response = await fetch(target.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(target.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Customify-Webhooks/1',
        'customify-event-id': event.eventId,
        'customify-event-type': event.type,
        'customify-timestamp': String(timestamp),
        'customify-signature': signatureHeader(target.secret, timestamp, event.body),
      },
      body: event.body,
    });
  } catch (error) {
    return { outcome: 'failed', statusCode: null, error: describeFetchError(error, target.timeoutMs) };
  }
  // The answer's body is not needed; dropping it frees the connection.
  await response.body?.cancel().catch(() => undefined);
  const status = response.status;
  if (status >= 200 && status < 300) return { outcome: 'delivered', statusCode: status };
  if (status === 410) return { outcome: 'gone', statusCode: 410 };
  if (status >= 300 && status < 400) {
    const location = response.headers.get('location');
    return { outcome: 'failed', statusCode: status, error: `Answered ${status} (a redirect${location ? ` to ${location}` : ''}): redirects are not followed; set WEBHOOK_URL to the final URL.` };
  }
  return { outcome: 'failed', statusCode: status, error: `Answered ${status}${response.statusText ? ` ${response.statusText}` : ''}.` };
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `No answer within WEBHOOK_TIMEOUT (${timeoutMs} ms).`;
  // undici hides the socket error (ECONNREFUSED, ENOTFOUND...) in `cause`.
  const cause = (error as { cause?: unknown } | null)?.cause;
  const code = (cause as { code?: unknown } | null)?.code;
  return `Could not reach the receiver: ${typeof code === 'string' ? `${code} ` : ''}${describeError(cause ?? error)}`.trim();
}
