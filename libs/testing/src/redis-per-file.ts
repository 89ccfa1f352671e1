import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { TestRedis, type TestRedisOptions } from './redis-server.ts';

export interface RedisPerFile {
  /** The throwaway server (after the file's `before` hook ran). */
  readonly server: TestRedis;
  /** A client of it, closed with the server. */
  readonly client: Redis;
}

/** One throwaway Redis for the test file that calls this: started before its tests, stopped after. */
export function redisPerFile(options: TestRedisOptions = {}): RedisPerFile {
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  before(async () => {
    server = await TestRedis.start(options);
    client = server.client();
  });
  after(async () => {
    await server?.stop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('redisPerFile: used before its before() hook ran');
    return value;
  };
  return {
    get server() {
      return ready(server);
    },
    get client() {
      return ready(client);
    },
  };
}
