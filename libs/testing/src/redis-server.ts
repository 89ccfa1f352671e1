import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';

export const REDIS_MISSING_MESSAGE =
  'redis-server was not found on PATH. The integration tests start their own throwaway Redis.\n' +
  '  Debian/Ubuntu: sudo apt-get install -y redis-server\n' +
  '  macOS:         brew install redis\n' +
  'or point REDIS_SERVER_BIN at a redis-server binary.';

export function redisServerBinary(): string {
  return process.env.REDIS_SERVER_BIN ?? 'redis-server';
}

export function isRedisServerInstalled(): boolean {
  const probe = spawnSync(redisServerBinary(), ['--version'], { stdio: 'ignore' });
  return probe.status === 0;
}

export interface TestRedisOptions {
  appendfsync?: 'always' | 'everysec' | 'no';
  appendonly?: boolean;
  maxmemory?: string;
  maxmemoryPolicy?: string;
}

/**
 * A throwaway redis-server on a free loopback port with its own directory: AOF with fsync per write
 * and noeviction by default, as production runs. `kill()` is kill -9 (crash); `start()` again reuses
 * the directory and port, so a restart recovers from the AOF like the real thing.
 */
export class TestRedis {
  readonly dir: string;
  readonly port: number;
  readonly options: Required<TestRedisOptions>;
  #process: ChildProcess | undefined;
  #clients: Redis[] = [];

  private constructor(dir: string, port: number, options: Required<TestRedisOptions>) {
    this.dir = dir;
    this.port = port;
    this.options = options;
  }

  static async start(options: TestRedisOptions = {}): Promise<TestRedis> {
    if (!isRedisServerInstalled()) throw new Error(REDIS_MISSING_MESSAGE);
    const dir = await mkdtemp(join(tmpdir(), 'outpost-redis-'));
    const server = new TestRedis(dir, await freePort(), {
      appendfsync: options.appendfsync ?? 'always',
      appendonly: options.appendonly ?? true,
      maxmemory: options.maxmemory ?? '0',
      maxmemoryPolicy: options.maxmemoryPolicy ?? 'noeviction',
    });
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  async start(): Promise<void> {
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--save', '',
      '--appendonly', this.options.appendonly ? 'yes' : 'no',
      '--appendfsync', this.options.appendfsync,
      '--maxmemory', this.options.maxmemory,
      '--maxmemory-policy', this.options.maxmemoryPolicy,
      // As docker-compose.yml runs it: job hashes stay compact listpacks.
      '--hash-max-listpack-value', '1024',
      '--daemonize', 'no',
      '--logfile', join(this.dir, 'redis.log'),
    ]; // biome-ignore format: one option per line pair
    const child = spawn(redisServerBinary(), args, { stdio: 'ignore' });
    this.#process = child;
    // A test process that ends without stop() (a crash, a timeout) must not leave Redis behind.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    await this.#waitUntilReady();
  }

  /** A client the kit closes in stop(). */
  client(): Redis {
    const client = new Redis(this.url, { maxRetriesPerRequest: null, lazyConnect: false });
    client.on('error', () => {}); // expected while a test has Redis down
    this.#clients.push(client);
    return client;
  }

  /** kill -9: no shutdown save, exactly like a crash. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.#process = undefined;
  }

  /**
   * Ends Redis with SIGTERM, which also stops an AOF rewrite child: after a kill -9 that child
   * lives on and writes into the directory while it is being removed (ENOTEMPTY). kill -9 after 5 s.
   */
  async stop(): Promise<void> {
    await Promise.all(this.#clients.map((client) => client.quit().catch(() => client.disconnect())));
    this.#clients = [];
    const child = this.#process;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    this.#process = undefined;
    await rm(this.dir, { recursive: true, force: true, maxRetries: 5 });
  }

  async #waitUntilReady(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.#process?.exitCode !== null && this.#process?.exitCode !== undefined) {
        throw new Error(
          `redis-server exited with ${this.#process.exitCode}; see ${join(this.dir, 'redis.log')}`,
        );
      }
      const probe = new Redis(this.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      probe.on('error', () => {});
      try {
        await probe.connect();
        // Loading the AOF answers LOADING; wait until the data set is there.
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        // not up yet
      } finally {
        probe.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on port ${this.port} did not become ready`);
  }
}
