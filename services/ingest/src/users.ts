import { readFile } from 'node:fs/promises';
import { isPasswordHash } from './password-hash.ts';

/** A submission user: who may log in, and which envelope senders it may use. */
export interface SubmissionUser {
  name: string;
  passwordHash: string;
  /** "alice@example.com", "@example.com" (whole domain), "*" (any), "<>" (null sender). */
  allowedSenders: string[];
}

/**
 * The users file: one user a line, "name:hash:sender1,sender2"; '#' starts a comment. The hash
 * contains '$' and ',' but never ':', so the line splits unambiguously on ':'.
 */
export function parseUsersFile(text: string): Map<string, SubmissionUser> {
  const users = new Map<string, SubmissionUser>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const [name = '', passwordHash = '', senders = '', ...extra] = trimmed.split(':');
    if (name === '' || !isPasswordHash(passwordHash) || extra.length > 0) {
      problems.push(`line ${index + 1}: expected "name:<hash from outpost hash-password>:sender,..."`);
      return;
    }
    const allowedSenders = senders
      .split(',')
      .map((sender) => sender.trim().toLowerCase())
      .filter(Boolean);
    users.set(name, { name, passwordHash, allowedSenders });
  });
  if (problems.length > 0) throw new Error(`users file: ${problems.join('; ')}`);
  return users;
}

export async function loadUsersFile(path: string): Promise<Map<string, SubmissionUser>> {
  return parseUsersFile(await readFile(path, 'utf8'));
}

/** Whether `user` may use `sender` ('' is the null reverse path) as its envelope sender. */
export function mayUseSender(user: SubmissionUser, sender: string): boolean {
  const address = sender.toLowerCase();
  return user.allowedSenders.some((allowed) => {
    if (allowed === '*') return true;
    if (allowed === '<>') return address === '';
    if (allowed.startsWith('@'))
      return address.endsWith(allowed) && address.indexOf('@') === address.length - allowed.length;
    return allowed === address;
  });
}
