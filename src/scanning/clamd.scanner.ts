import { connect, type Socket } from 'node:net';
import { ScanError, type ScanInput, type ScanResult, type VirusScanner } from './virus-scanner.js';

/**
 * A client of clamd's documented TCP protocol (clamd(8), "INSTREAM"), written here rather
 * than taken from npm: the protocol is four commands and a length-prefixed framing, and owning
 * the ~200 lines gives us what the packages do not promise together: streaming with
 * backpressure, a connect deadline and an idle deadline, and errors typed by whether a retry
 * can help (see the port's doc comment in virus-scanner.ts).
 *
 * Conversation, one TCP connection per command ("z" prefix: NUL-terminated command and reply):
 *   zPING\0                -> PONG\0
 *   zVERSION\0             -> ClamAV 1.4.6/27000/...\0
 *   zINSTREAM\0 <len:u32be><bytes>... <0:u32be>
 *                          -> "stream: OK\0" | "stream: <signature> FOUND\0" | "<text> ERROR\0"
 * clamd answers "INSTREAM size limit exceeded. ERROR" and closes as soon as the stream passes
 * its StreamMaxLength; we stop sending when any reply arrives.
 */

export interface ClamdScannerOptions {
  host: string;
  port: number;
  /** Deadline for the TCP connection to be accepted. Default 5 s. */
  connectTimeoutMs?: number;
  /**
   * Longest time without progress once connected: clamd not accepting bytes while we send,
   * or not answering after the last chunk. Default 60 s (a large file with the full
   * signature database takes seconds to scan after its last byte).
   */
  readTimeoutMs?: number;
  /** Bytes per INSTREAM chunk. Default 64 KiB; clamd's own limit per chunk is far larger. */
  chunkSize?: number;
  /**
   * clamd's StreamMaxLength, if known (CLAMD_STREAM_MAX_BYTES). A longer stream is refused
   * with SCAN_TOO_LARGE before its first byte past the limit is sent. Without it we learn the
   * limit from clamd's "INSTREAM size limit exceeded" reply, but clamd closes the connection
   * right after that reply while our next chunk is in flight, and sometimes the reset reaches
   * Node before the reply is read (measured here, 64 MiB offered to a clamd with
   * StreamMaxLength 1M, 200 scans: 17 resets; 119 without the yield before each chunk in
   * send()). A reset after bytes were sent is then followed by a PING: a clamd that does not
   * answer is down (SCAN_UNAVAILABLE); one that answers is sent a stream of zeros of the same
   * length, and SCAN_TOO_LARGE is reported only if it refuses that too (a clamd restarted
   * in between answers PING but scans the zeros: SCAN_UNAVAILABLE, retried).
   */
  maxStreamBytes?: number;
}

const FOUND = /^stream: (.+) FOUND$/;
const SIZE_LIMIT = 'INSTREAM size limit exceeded';

export class ClamdScanner implements VirusScanner {
  readonly enabled = true;
  private readonly host: string;
  private readonly port: number;
  private readonly connectTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private readonly chunkSize: number;
  private readonly maxStreamBytes: number;

  constructor(options: ClamdScannerOptions) {
    this.host = options.host;
    this.port = options.port;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.readTimeoutMs = options.readTimeoutMs ?? 60_000;
    this.chunkSize = options.chunkSize ?? 64 * 1024;
    this.maxStreamBytes = options.maxStreamBytes ?? Number.POSITIVE_INFINITY;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async ping(): Promise<void> {
    const reply = await this.converse('PING');
    if (reply !== 'PONG') throw this.protocolError('PING', reply);
  }

  async version(): Promise<string> {
    const reply = await this.converse('VERSION');
    if (!reply.startsWith('ClamAV ')) throw this.protocolError('VERSION', reply);
    return reply;
  }

  async scan(input: ScanInput): Promise<ScanResult> {
    const progress = { sent: 0 };
    let reply: string;
    try {
      reply = await this.converse('INSTREAM', input, progress);
    } catch (error) {
      // clamd closes at its StreamMaxLength with our next chunk in flight; when the reset
      // reaches us before its reply, only a live clamd tells a refused stream from a dead one.
      if (isResetAfterBytes(error, progress.sent) && (await this.answers())) {
        // A clamd that restarted between the reset and the PING answers too: only a stream of
        // the same length refused again tells a limit from a restart.
        if (await this.refusesLength(progress.sent)) {
          throw this.tooLarge(`ClamAV at ${this.address} reset the stream after ${progress.sent} bytes, and refused a stream of zeros of that length too, as it does past its StreamMaxLength`, error);
        }
      }
      throw error;
    }
    if (reply === 'stream: OK') return { status: 'clean' };
    const found = FOUND.exec(reply);
    if (found) return { status: 'infected', signature: found[1]! };
    if (reply.startsWith(SIZE_LIMIT)) {
        throw this.tooLarge(`ClamAV at ${this.address} refused the file as larger than its StreamMaxLength ("${reply}")`);
    }
    throw this.protocolError('INSTREAM', reply);
  }

  private tooLarge(what: string, cause?: unknown): ScanError {
    return new ScanError('SCAN_TOO_LARGE', `${what}: raise StreamMaxLength in clamd.conf (and CLAMD_STREAM_MAX_BYTES) above the upload byte limit`, { cause });
  }

  /** Whether clamd answers PING now. */
  private answers(): Promise<boolean> {
    return this.ping().then(() => true, () => false);
  }

  /**
   * Sends `bytes` zero bytes as a stream: whether clamd refuses that length (its size-limit
   * reply, or a reset while it still answers PING, up to three times in a row). A stream it
   * scans, or a clamd that stops answering, means the length is not what failed.
   */
  private async refusesLength(bytes: number): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const progress = { sent: 0 };
      try {
        const reply = await this.converse('INSTREAM', zeros(bytes, this.chunkSize), progress);
        return reply.startsWith(SIZE_LIMIT);
      } catch (error) {
        if (!isResetAfterBytes(error, progress.sent) || !(await this.answers())) return false;
      }
    }
    return true;
  }

  private protocolError(command: string, reply: string): ScanError {
    return new ScanError(
      'SCAN_PROTOCOL',
      `ClamAV at ${this.address} answered ${command} with "${reply.slice(0, 200)}", which is not a valid reply: check that CLAMD_HOST/CLAMD_PORT point at clamd and see its log`,
    );
  }

  /** Sends one z-command (and for INSTREAM, the body) on a fresh connection; resolves with the reply. */
  private async converse(command: string, body?: ScanInput, progress: { sent: number } = { sent: 0 }): Promise<string> {
    const connection = await this.connect();
    const { socket } = connection;
    try {
      const reply = this.readReply(connection, command);
      reply.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
      let answered = false;
      void reply.finally(() => (answered = true)).catch(() => {});
      socket.write(`z${command}\0`);
      if (body !== undefined) {
        // send() rejects only when reading the input fails or it passes maxStreamBytes; socket failures settle `reply`.
        // A reply can come before we finish sending (size limit): it wins, and sending stops.
        const sending = this.send(socket, body, () => answered, progress);
        sending.catch(() => {});
        await Promise.race([sending, reply]);
      }
      return await reply;
    } finally {
      socket.destroy();
    }
  }

  private connect(): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const connection: Connection = { socket: undefined as unknown as Socket, onBytes: () => {} };
      // `onread` hands each read to the reply parser as libuv makes it, with no stream
      // buffering in between, so a reply read just before a failing write (clamd answering at
      // its StreamMaxLength, then resetting) is parsed before the write error destroys the socket.
      // (Not measured separately from the yield in send(); see maxStreamBytes for the figures.)
      const socket = connect({
        host: this.host,
        port: this.port,
        onread: {
          buffer: Buffer.alloc(4096),
          callback: (bytes, buffer) => {
            connection.onBytes(Buffer.from(buffer.subarray(0, bytes)));
            return true;
          },
        },
      });
      connection.socket = socket;
      socket.setNoDelay(true);
      socket.setTimeout(this.connectTimeoutMs);
      const fail = (error: ScanError) => {
        socket.destroy();
        reject(error);
      };
      const onError = (error: NodeJS.ErrnoException) =>
        fail(
          new ScanError(
            'SCAN_UNAVAILABLE',
            `ClamAV at ${this.address} is unreachable (${error.code ?? error.message}): start clamd or fix CLAMD_HOST/CLAMD_PORT; the file is scanned when it answers`,
            { cause: error },
          ),
        );
      const onTimeout = () =>
        fail(
          new ScanError(
            'SCAN_UNAVAILABLE',
            `ClamAV at ${this.address} did not accept a connection within ${this.connectTimeoutMs} ms: check that clamd is running and reachable`,
          ),
        );
      socket.once('error', onError);
      socket.once('timeout', onTimeout);
      socket.once('connect', () => {
        socket.off('error', onError);
        socket.off('timeout', onTimeout);
        socket.setTimeout(this.readTimeoutMs);
        resolve(connection);
      });
    });
  }

  /** Resolves with the reply up to its NUL (or up to the close, for a peer that omits it). */
  private readReply(connection: Connection, command: string): Promise<string> {
    const { socket } = connection;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let done = false;
      const finish = (error: ScanError | null, text?: string) => {
        if (done) return;
        done = true;
        if (error) reject(error);
        else resolve(text!);
      };
      connection.onBytes = (data: Buffer) => {
        chunks.push(data);
        const all = Buffer.concat(chunks);
        const end = all.indexOf(0);
        if (end >= 0) finish(null, all.subarray(0, end).toString('utf8').trim());
      };
      socket.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8').trim();
        if (text) finish(null, text);
        else
          finish(
            new ScanError(
              'SCAN_UNAVAILABLE',
              `ClamAV at ${this.address} closed the connection without answering ${command}: it may be restarting or overloaded (see its log); retry later`,
            ),
          );
      });
      socket.once('error', (error: NodeJS.ErrnoException) =>
        finish(
          new ScanError(
            'SCAN_UNAVAILABLE',
            `ClamAV at ${this.address} dropped the connection during ${command} (${error.code ?? error.message}): it may be restarting; retry later` +
              (command === 'INSTREAM' ? '. If this repeats for large files only, check that clamd\'s StreamMaxLength is above the upload byte limit' : ''),
            { cause: error },
          ),
        ),
      );
      socket.once('timeout', () => {
        finish(
          new ScanError(
            'SCAN_TIMEOUT',
            `ClamAV at ${this.address} made no progress on ${command} for ${this.readTimeoutMs} ms: it may be overloaded; retry later or raise the scan timeout`,
          ),
        );
        socket.destroy();
      });
    });
  }

  /** Streams `body` as INSTREAM chunks with backpressure, then the zero-length terminator. */
  private async send(socket: Socket, body: ScanInput, answered: () => boolean, progress: { sent: number }): Promise<void> {
    const source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = body instanceof Uint8Array ? [body] : body;
    const iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
    let sent = 0;
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await iterator.next();
        } catch (error) {
          throw new ScanError('SCAN_INPUT_FAILED', `Reading the file to scan failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        if (next.done) break;
        const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
        for (let offset = 0; offset < chunk.length; offset += this.chunkSize) {
          // Let the event loop read what clamd sent before we write again: when clamd stops
          // at its StreamMaxLength it answers and closes at once, and a write that meets the
          // reset would destroy the socket with its reply still unread in the kernel buffer.
          await new Promise(setImmediate);
          if (answered() || socket.destroyed) return;
          const piece = chunk.subarray(offset, offset + this.chunkSize);
          sent += piece.length;
          progress.sent = sent;
          if (sent > this.maxStreamBytes) throw this.tooLarge(`The file is larger than ClamAV's StreamMaxLength of ${this.maxStreamBytes} bytes (CLAMD_STREAM_MAX_BYTES)`);
          const header = Buffer.allocUnsafe(4);
          header.writeUInt32BE(piece.length, 0);
          socket.write(header);
          if (!socket.write(piece)) await drained(socket);
        }
      }
      if (!answered() && !socket.destroyed) socket.write(Buffer.alloc(4));
    } finally {
      // Stops and releases a stream source we did not read to its end (e.g. clamd answered early).
      await iterator.return?.();
    }
  }
}

/** A connection reset after some of the stream was sent: clamd's limit, or clamd going away. */
function isResetAfterBytes(error: unknown, sent: number): boolean {
  if (!(error instanceof ScanError) || error.code !== 'SCAN_UNAVAILABLE' || sent === 0) return false;
  const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

// eslint-disable-next-line @typescript-eslint/require-await -- async only to be a ScanInput (AsyncIterable).
async function* zeros(bytes: number, chunkSize: number): AsyncGenerator<Uint8Array> {
  const block = Buffer.alloc(Math.min(bytes, chunkSize));
  for (let left = bytes; left > 0; left -= block.length) yield block.subarray(0, Math.min(left, block.length));
}

interface Connection {
  socket: Socket;
  /** Where the bytes read go; set by readReply. */
  onBytes: (data: Buffer) => void;
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    // On close the reply promise has already settled (error or answer); the loop then stops.
    socket.once('drain', done);
    socket.once('close', done);
  });
}
