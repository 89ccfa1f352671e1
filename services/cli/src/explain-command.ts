import { createInterface } from 'node:readline';
import { explainReply, type SmtpStage } from '@outpost/core';
import type { Command } from 'commander';

const STAGES = ['greeting', 'mail', 'rcpt', 'data', 'end-of-data'] as const;

/** `outpost explain "<reply line>"`: what delivery would make of a reply, and what it means. */
export function addExplainCommand(program: Command): void {
  program
    .command('explain [reply]')
    .description(
      'verdict, status, category and explanation of an SMTP reply (lines from stdin when none is given)',
    )
    .option('--json', '{verdict, status, category, explanation} per line')
    .option('--stage <stage>', `where the reply came: ${STAGES.join(', ')}`, 'rcpt')
    .action(async (reply: string | undefined, options: { json?: boolean; stage: string }) => {
      if (!(STAGES as readonly string[]).includes(options.stage))
        throw new Error(`--stage: one of ${STAGES.join(', ')}`);
      const explain = (line: string) => {
        const diagnosis = explainReply(line, options.stage as SmtpStage);
        if (options.json) {
          const { verdict, status, category, explanation } = diagnosis ?? {
            verdict: undefined,
            status: undefined,
            category: undefined,
            explanation: 'not an SMTP reply (it must start with a 2xx-5xx code)',
          };
          process.stdout.write(
            `${JSON.stringify({ reply: line, verdict, status, category, explanation })}\n`,
          );
        } else if (!diagnosis) {
          process.stdout.write(`${line}\n  not an SMTP reply (it must start with a 2xx-5xx code)\n`);
        } else {
          process.stdout.write(
            `${line}\n  ${diagnosis.verdict} (${diagnosis.status}), ${diagnosis.category}\n  ${diagnosis.explanation}\n`,
          );
        }
      };
      if (reply !== undefined) return explain(reply);
      for await (const line of createInterface({ input: process.stdin }))
        if (line.trim() !== '') explain(line);
    });
}
