import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** The repository's docker-compose.yml and .env.example, read as compose reads them. */
const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

export const composeText = read('docker-compose.yml');

export const dotenvExample: Record<string, string> = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z]/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

/** ${VAR:-default} as compose fills it in from `values` (the shell or .env). */
export const interpolate = (text: string, values: Record<string, string> = {}) =>
  text.replace(
    /\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g,
    (_, name: string, fallback = '') => values[name] ?? fallback,
  );

export interface ComposeService {
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
}

/** The services with `values` interpolated (YAML merge keys resolved, as compose does). */
export function composeServices(values: Record<string, string>): Record<string, ComposeService> {
  return (
    parse(interpolate(composeText, values), { merge: true }) as { services: Record<string, ComposeService> }
  ).services;
}
