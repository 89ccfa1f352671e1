import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

type ScriptArgument = string | number | Buffer;

/** A Lua script Outpost runs on its own connections (BullMQ loads its own). */
export interface RedisScript {
  readonly sha1: string;
  run(redis: Redis | Cluster, keys: readonly string[], args: readonly ScriptArgument[]): Promise<unknown>;
  /** As run, with every string in the reply as a Buffer (for binary values such as a body). */
  runBuffer(
    redis: Redis | Cluster,
    keys: readonly string[],
    args: readonly ScriptArgument[],
  ): Promise<unknown>;
}

/**
 * Runs the script by its SHA1 (EVALSHA) and sends its text only when Redis does not have it
 * (first use, a restart, SCRIPT FLUSH). EVAL with the text every time costs a copy of the script
 * on the wire and a SHA1 of it in Redis per call; on the delivery path that was two scripts per
 * message. NOSCRIPT is answered before anything runs, so the retry cannot apply the script twice.
 */
export function redisScript(lua: string): RedisScript {
  const sha1 = createHash('sha1').update(lua).digest('hex');
  return {
    sha1,
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha1, keys.length, ...keys, ...args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return redis.eval(lua, keys.length, ...keys, ...args);
      }
    },
    async runBuffer(redis, keys, args) {
      try {
        return await (redis as unknown as BufferScripts).evalshaBuffer(sha1, keys.length, ...keys, ...args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return (redis as unknown as BufferScripts).evalBuffer(lua, keys.length, ...keys, ...args);
      }
    },
  };
}

/**
 * ioredis has a Buffer-reply twin of every command (evalshaBuffer...) but types only some of them.
 * (`callBuffer('evalsha', ...)` is typed, but on an auto-pipelining connection it never answers.)
 */
interface BufferScripts {
  evalshaBuffer(sha1: string, keyCount: number, ...keysAndArgs: ScriptArgument[]): Promise<unknown>;
  evalBuffer(script: string, keyCount: number, ...keysAndArgs: ScriptArgument[]): Promise<unknown>;
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
