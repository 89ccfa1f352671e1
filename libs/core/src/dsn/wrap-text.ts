/**
 * Wraps prose at spaces to lines of at most `width` characters (longer words stay whole), each
 * line starting with `indent`. Plain text for people reads best at about 72 columns.
 */
export function wrapText(text: string, width = 72, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}
