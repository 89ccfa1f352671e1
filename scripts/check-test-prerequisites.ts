/**
 * Runs before the test suite: says plainly what is missing and how to get it, instead of letting
 * dozens of integration tests fail obscurely.
 */
import { spawnSync } from 'node:child_process';
import {
  isRedisServerInstalled,
  OPENSSL_MISSING_MESSAGE,
  opensslBinary,
  REDIS_MISSING_MESSAGE,
} from '@outpost/testing';

const problems: string[] = [];
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  problems.push(
    `Node.js ${process.versions.node} is too old: Outpost needs Node.js 24 (see .nvmrc; e.g. \`nvm use\`).`,
  );
}
if (!isRedisServerInstalled()) problems.push(REDIS_MISSING_MESSAGE);
if (spawnSync(opensslBinary(), ['version']).status !== 0) problems.push(OPENSSL_MISSING_MESSAGE);

if (problems.length > 0) {
  process.stderr.write(`\nCannot run the tests:\n\n${problems.join('\n\n')}\n\n`);
  process.exit(1);
}
