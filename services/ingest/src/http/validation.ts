import type { FastifySchemaCompiler } from 'fastify';
import type { $ZodIssue, $ZodType } from 'zod/v4/core';
import { safeParse } from 'zod/v4/core';
import { ApiError } from './api-error.ts';
import {
  composedMessageSchema,
  HEADER_SAFE,
  HEADER_SAFE_MESSAGE,
  rawMessageSchema,
  sendMessageSchema,
} from './schemas.ts';

/** Carries zod's full error to the error handler (fastify's own shape would flatten it). */
export class RequestValidationError extends Error {
  readonly issues: readonly $ZodIssue[];
  readonly statusCode = 400;
  constructor(issues: readonly $ZodIssue[]) {
    super('invalid request');
    this.name = 'RequestValidationError';
    this.issues = issues;
  }
}

/**
 * The message body is "composed | raw"; zod would report the issues of the branch that failed
 * least, often not the one the client meant. The presence of `raw` says which it is.
 */
function branchFor(schema: $ZodType, data: unknown): $ZodType {
  if (schema !== sendMessageSchema) return schema;
  return typeof data === 'object' && data !== null && 'raw' in data
    ? rawMessageSchema
    : composedMessageSchema;
}

export function parseRequest(
  schema: $ZodType,
  data: unknown,
): { value: unknown } | { error: RequestValidationError } {
  const result = safeParse(branchFor(schema, data), data);
  return result.success ? { value: result.data } : { error: new RequestValidationError(result.error.issues) };
}

export const validatorCompiler: FastifySchemaCompiler<$ZodType> =
  ({ schema }) =>
  (data) =>
    parseRequest(schema, data);

type Path = ReadonlyArray<PropertyKey>;

/** `attachments[0].path`, `headers.X-Priority`, `headers["odd name"]`. */
export function formatField(path: Path): string {
  return path
    .map((part, index) => {
      if (typeof part === 'number') return `[${part}]`;
      const text = String(part);
      if (/^[A-Za-z0-9_-]+$/.test(text)) return index === 0 ? text : `.${text}`;
      return `[${JSON.stringify(text)}]`;
    })
    .join('');
}

const BREAKS = /[\r\n\0]/;

function isHeaderInjection(issue: $ZodIssue): boolean {
  if (issue.code === 'invalid_format' && 'pattern' in issue) return issue.pattern === String(HEADER_SAFE);
  if (issue.code === 'invalid_key') return BREAKS.test(String(issue.path.at(-1) ?? ''));
  return false;
}

/** Flattens nested unions: every branch's issues count, with paths made absolute. */
function flatten(issues: readonly $ZodIssue[], prefix: Path = []): Array<{ issue: $ZodIssue; path: Path }> {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code !== 'invalid_union') return [{ issue, path }];
    return issue.errors.flatMap((branch) => flatten(branch, path));
  });
}

/** An attachment asking the MIME builder to read a file or fetch a URL: the key at fault, if any. */
function attachmentSource(issue: $ZodIssue, path: Path): string | undefined {
  if (issue.code !== 'unrecognized_keys' || path[0] !== 'attachments') return undefined;
  return issue.keys.find((key) => key === 'path' || key === 'href');
}

/**
 * The one error a client gets for an invalid body: the attempts at abuse first (header injection,
 * file/URL attachments), as they are what a log reader most needs to see, then the first issue.
 */
export function validationToApiError(error: RequestValidationError): ApiError {
  const all = flatten(error.issues);
  const injection = all.find(({ issue }) => isHeaderInjection(issue));
  if (injection) {
    const field = formatField(injection.path);
    return new ApiError(400, 'header_injection', `${field} ${HEADER_SAFE_MESSAGE}`, { field });
  }
  for (const { issue, path } of all) {
    const key = attachmentSource(issue, path);
    if (key === undefined) continue;
    const field = formatField([...path, key]);
    return new ApiError(
      400,
      'attachment_source_not_allowed',
      `${field}: attachments must carry their content inline (base64); files and URLs are never read`,
      { field },
    );
  }
  const chosen = all[0];
  if (!chosen) return new ApiError(400, 'invalid_request', 'The request is not valid');
  const { issue, path } = chosen;
  if (issue.code === 'unrecognized_keys') {
    const field = formatField([...path, issue.keys[0] ?? '']);
    return new ApiError(400, 'invalid_request', `${field} is not a known field here`, { field });
  }
  const field = path.length > 0 ? formatField(path) : undefined;
  return new ApiError(400, 'invalid_request', field ? `${field}: ${issue.message}` : issue.message, {
    ...(field !== undefined && { field }),
  });
}
