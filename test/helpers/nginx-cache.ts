import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from './app.js';
import { waitFor } from './services.js';
import { createTempDir, removeTempDir } from './tmp.js';
import { portAnswers } from './services.js';

/**
 * A real HTTP cache standing in for a CDN: nginx with `proxy_cache` in front of an origin
 * (`/static` in local mode, Ceph RGW's public URLs in S3 mode). Like a CDN it keeps what the
 * origin's Cache-Control allows (no `proxy_cache_valid`, so an answer without caching headers,
 * or a private one, is not kept) and says what it did in `X-Cache-Status` (MISS, HIT, ...).
 *
 * Everything lives in a temp folder of its own (`-p prefix`: config, pid, logs, cache, the
 * temp paths), so it runs as any user beside the system's nginx. When nginx is not installed
 * its suites are skipped with a message, except when CI is set: then they run and fail.
 */

function nginxBinary(): string | null {
  // NGINX_BIN, when set, is the only candidate (another build, or a missing one to see the skip).
  for (const candidate of process.env.NGINX_BIN ? [process.env.NGINX_BIN] : ['/usr/sbin/nginx', '/usr/bin/nginx']) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

export const nginxBinaryPath = nginxBinary();

const MISSING = 'nginx is not installed (.ci/run installs it: apt-get install nginx-light; or set NGINX_BIN)';

if (!nginxBinaryPath && !process.env.CI) {
  console.warn(`${MISSING}: skipping the CDN cache tests. With CI set they fail instead of being skipped.`);
}

/** Skip only when nginx is missing and CI is unset. */
export const skipNginx = !nginxBinaryPath && !process.env.CI;

/** One answer through the cache. */
export interface CachedResponse {
  status: number;
  /** `X-Cache-Status`: MISS, HIT, EXPIRED, BYPASS, ... ('' when nginx did not consult the cache). */
  cacheStatus: string;
  headers: Headers;
  body: Buffer;
}

export interface NginxCache {
  /** Where the cache answers, e.g. http://127.0.0.1:41234. */
  origin: string;
  /** The origin it fronts, as given. */
  upstream: string;
  /** `url` with its origin replaced by the cache's: the same path, through the cache. */
  rewrite(url: string): string;
  /** GET `url` (an origin URL or one already rewritten) through the cache. */
  get(url: string): Promise<CachedResponse>;
  /** nginx's error log so far, for failure messages. */
  errorLog(): Promise<string>;
  /** Stops nginx (SIGTERM; SIGKILL after 5 s) and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** The nginx.conf of a cache in `dir` on `port` in front of `upstream` (an origin: scheme, host, port). */
export function nginxCacheConfig(dir: string, port: number, upstream: string): string {
  const at = (name: string) => path.join(dir, name);
  // Only root may switch users; as root, keep the workers as root so they can write the
  // private (0700) temp folder. As anyone else the directive would only earn a warning.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  return `${user}daemon off;
master_process on;
worker_processes 1;
pid ${at('nginx.pid')};
error_log ${at('error.log')} warn;
events { worker_connections 256; }
http {
  access_log ${at('access.log')};
  client_body_temp_path ${at('client_body_temp')};
  proxy_temp_path ${at('proxy_temp')};
  fastcgi_temp_path ${at('fastcgi_temp')};
  uwsgi_temp_path ${at('uwsgi_temp')};
  scgi_temp_path ${at('scgi_temp')};
  proxy_cache_path ${at('cache')} levels=1:2 keys_zone=cdn:4m max_size=256m inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache cdn;
      # One fetch from the origin per key, as a CDN collapses concurrent misses.
      proxy_cache_lock on;
      add_header X-Cache-Status $upstream_cache_status always;
    }
  }
}
`;
}

/**
 * Starts nginx as a child process (`daemon off`) caching `upstream`, and waits until it
 * accepts connections. `upstream` must be an origin (http://host:port): paths go through as
 * they are.
 */
export async function startNginxCache(upstream: string): Promise<NginxCache> {
  const parsed = new URL(upstream);
  if (parsed.protocol !== 'http:' || parsed.pathname !== '/' || parsed.search) {
    throw new Error(`startNginxCache takes an http origin such as http://127.0.0.1:7480, not ${upstream}: request paths go to the origin unchanged.`);
  }
  if (!nginxBinaryPath) throw new Error(MISSING);
  const dir = await createTempDir('nginx-cache');
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(conf, nginxCacheConfig(dir, port, parsed.origin));
  const readLog = () => readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '');
  let output = '';
  // -e: the error log before nginx.conf is read (the build's default is stderr, or a system path).
  const child: ChildProcess = spawn(nginxBinaryPath, ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const killed = () => child.kill('SIGKILL');
  process.once('exit', killed);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', killed);
      if (alive()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await removeTempDir(dir);
    })();
    return stopping;
  };

  try {
    await waitFor(`nginx to accept connections on 127.0.0.1:${port}`, async () => {
      if (!alive()) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}): ${output}${await readLog()}`);
      // nginx writes its pid file only once its sockets are bound: a connection accepted
      // before that would be some other process that took the free port meanwhile.
      return existsSync(path.join(dir, 'nginx.pid')) && portAnswers(port);
    }, 10_000, 20);
  } catch (error) {
    const log = await readLog();
    await stop();
    throw new Error(`${(error as Error).message}\n${output}${log}`, { cause: error });
  }

  const origin = `http://127.0.0.1:${port}`;
  const rewrite = (url: string) => {
    const u = new URL(url);
    return `${origin}${u.pathname}${u.search}`;
  };
  return {
    origin,
    upstream: parsed.origin,
    rewrite,
    async get(url) {
      const response = await fetch(url.startsWith(origin) ? url : rewrite(url));
      return {
        status: response.status,
        cacheStatus: response.headers.get('x-cache-status') ?? '',
        headers: response.headers,
        body: Buffer.from(await response.arrayBuffer()),
      };
    },
    errorLog: readLog,
    stop,
  };
}
