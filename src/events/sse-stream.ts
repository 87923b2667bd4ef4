import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

export interface SseStreamOptions {
  /** A `: keep-alive` comment this often, so proxies and browsers keep an idle stream open. */
  heartbeatMs: number;
  /**
   * Bytes allowed to wait unsent (in Node and the socket) for a client that does not read.
   * Past it the connection is dropped: without a cap, a stalled client grows memory with
   * every event. A client that resumes with Last-Event-ID loses nothing within the window.
   */
  maxBufferedBytes: number;
  /** Told once when the stream ends, however it ends (end, client gone, dropped). */
  onClose: () => void;
}

export interface SseMessage {
  id?: string;
  event: string;
  data: unknown;
}

/** One Server-Sent Events response on a raw Node response: the wire format, heartbeat, backpressure cap. */
export class SseStream {
  private readonly heartbeat: NodeJS.Timeout | undefined;
  private done = false;
  private corked = false;

  constructor(private readonly res: ServerResponse, headers: OutgoingHttpHeaders, private readonly options: SseStreamOptions) {
    // The client left before the stream opened: its 'close' has fired, so it ends here.
    if (res.destroyed || !res.socket || res.socket.destroyed) {
      this.finish();
      return;
    }
    this.gather();
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx buffers proxied responses by default, which would hold events back.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), options.heartbeatMs);
    res.once('close', () => this.finish());
  }

  get closed(): boolean {
    return this.done;
  }

  /** `data` as one line of JSON (JSON never holds a raw line break), so one `data:` field carries it. */
  send(message: SseMessage): void {
    const id = message.id === undefined ? '' : `id: ${message.id}\n`;
    this.write(`${id}event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`);
  }

  end(): void {
    if (this.done) return;
    this.res.end();
    this.finish();
  }

  private write(chunk: string): void {
    if (this.done) return;
    this.gather();
    this.res.write(chunk);
    if (this.res.writableLength > this.options.maxBufferedBytes) {
      this.res.destroy();
      this.finish();
    }
  }

  /**
   * What is written in this tick leaves in one packet: the headers and the first event, an
   * event and `end` with the stream's close. Each socket write is a system call, and a design's
   * stream was six of them. The socket itself is corked and uncorked (not the response, which
   * lets go of a keep-alive socket once it ends, before the uncork would reach it).
   */
  private gather(): void {
    const socket = this.res.socket;
    if (this.corked || !socket) return;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.heartbeat);
    this.options.onClose();
  }
}
