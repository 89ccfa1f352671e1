const LIMIT = 78;
/** RFC 5322 §2.1.1: no line longer than 998 octets, whatever the content. */
const HARD_LIMIT = 990;

/**
 * "Name: value" folded at spaces into lines of at most 78 characters where possible (RFC 5322
 * §2.2.3; RFC 3464 §2.1.1 fields follow the same syntax), CRLF between lines, none at the end.
 * A word longer than a line stays whole unless it passes the hard limit.
 */
export function foldField(name: string, value: string): string {
  const words = value.split(/ +/).filter(Boolean).flatMap(splitLongWord);
  const lines: string[] = [];
  let line = `${name}:`;
  let lineHasWord = false;
  for (const word of words) {
    if (lineHasWord && line.length + 1 + word.length > LIMIT) {
      lines.push(line);
      line = '';
    }
    line = `${line} ${word}`;
    lineHasWord = true;
  }
  lines.push(line);
  return lines.join('\r\n');
}

function splitLongWord(word: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < word.length; i += HARD_LIMIT) parts.push(word.slice(i, i + HARD_LIMIT));
  return parts;
}
