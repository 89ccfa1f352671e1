/**
 * The `_mta-sts.<domain>` TXT record (RFC 8461 §3.1): `v=STSv1; id=20260101T000000;`. The id says
 * which policy is published; a sender fetches the policy file again only when it changes.
 */
export type StsRecordLookup =
  | { kind: 'found'; id: string }
  | { kind: 'absent'; reason: 'no-record' | 'several-records' | 'invalid-record'; detail?: string };

// sts-field-delim = *WSP ";" *WSP
const FIELD_DELIMITER = /[ \t]*;[ \t]*/;
// sts-id = %s"id=" 1*32(ALPHA / DIGIT)
const ID = /^[A-Za-z0-9]{1,32}$/;
// sts-ext-name = (ALPHA / DIGIT) 0*31(ALPHA / DIGIT / "_" / "-" / ".")
const EXTENSION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
// sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): visible characters except ";" and "="
const EXTENSION_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

/**
 * Picks the policy id out of the TXT answer (each record as its character-strings). §3.1: the
 * strings of one record are joined without spaces; records that do not begin with "v=STSv1;" are
 * discarded; if not exactly one remains, or it is invalid, the domain has no usable policy.
 */
export function parseStsRecords(records: ReadonlyArray<string | readonly string[]>): StsRecordLookup {
  const joined = records.map((record) => (typeof record === 'string' ? record : record.join('')));
  const candidates = joined.filter((record) => /^v=STSv1[ \t]*;/.test(record));
  if (candidates.length === 0) return { kind: 'absent', reason: 'no-record' };
  if (candidates.length > 1) {
    return { kind: 'absent', reason: 'several-records', detail: `${candidates.length} v=STSv1 records` };
  }
  const record = candidates[0]!;
  const id = idOfRecord(record);
  if (id === undefined) return { kind: 'absent', reason: 'invalid-record', detail: record };
  return { kind: 'found', id };
}

/** The id of a syntactically valid record (the §3.1 ABNF), or undefined. */
function idOfRecord(record: string): string | undefined {
  const fields = record.split(FIELD_DELIMITER);
  // The version comes first (checked by the caller); a trailing delimiter is allowed.
  if (fields.at(-1) === '') fields.pop();
  let id: string | undefined;
  for (const field of fields.slice(1)) {
    const equals = field.indexOf('=');
    if (equals < 1) return undefined;
    const name = field.slice(0, equals);
    const value = field.slice(equals + 1);
    if (name === 'id') {
      if (!ID.test(value)) return undefined;
      // A repeated id: the first one counts (the ABNF does not forbid repeats).
      id ??= value;
    } else if (!EXTENSION_NAME.test(name) || !EXTENSION_VALUE.test(value)) {
      return undefined;
    }
  }
  return id;
}
