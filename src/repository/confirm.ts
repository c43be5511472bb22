import type { Readable } from 'node:stream';

import { envVar } from '../context.js';
import { AbortedError } from '../errors.js';
import { jsonLine } from '../log.js';
import type { PromptIo } from './passphrase.js';

/**
 * Reads one line from `stdin` (without its line end); bytes after it are put back for the next
 * read. The end of input ends the line; so does an input that never comes, as from a stream that
 * is not readable.
 */
async function readLine(stdin: Readable): Promise<string> {
  if (!stdin.readable) return '';
  return new Promise<string>((resolve, reject) => {
    const bytes: Buffer[] = [];
    const finish = (settle: () => void): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      stdin.pause();
      settle();
    };
    const text = (): string => Buffer.concat(bytes).toString('utf8').replace(/\r$/, '');
    const onEnd = (): void => finish(() => resolve(text()));
    const onError = (e: unknown): void => finish(() => reject(e));
    const onData = (chunk: Buffer | string): void => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const nl = b.indexOf(0x0a);
      if (nl < 0) {
        bytes.push(b);
        return;
      }
      bytes.push(b.subarray(0, nl));
      const rest = b.subarray(nl + 1);
      finish(() => {
        if (rest.length > 0) stdin.unshift(rest);
        resolve(text());
      });
    };
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', onError);
    stdin.resume();
  });
}

/** How {@link confirm} writes: as text, or (`--log-json`) as borg's `question_*` objects. */
export interface ConfirmOptions {
  /** `--log-json`: the prompt and an answer from the environment become JSON lines. */
  json?: boolean;
}

/**
 * borg's confirmation: writes `prompt` to stderr and takes the answer from `HOARD_<envName>` (or
 * its `BORG_` twin) when set, else reads a line from stdin. Only an answer in `yes` (exactly)
 * confirms; anything else throws {@link AbortedError} ("Aborting." for no answer, "Invalid answer,
 * aborting." otherwise), so nothing is done. Under `json`, the prompt is a `question_prompt`
 * object and an answer from the environment a `question_env_answer` one, as borg writes them.
 */
export async function confirm(
  env: NodeJS.ProcessEnv,
  io: PromptIo,
  prompt: string,
  envName: string,
  yes: readonly string[],
  opts: ConfirmOptions = {},
): Promise<void> {
  const json = opts.json === true;
  io.stderr.write(json ? jsonLine({ type: 'question_prompt', msgid: null, message: prompt }) : prompt);
  const fromEnv = envVar(env, envName);
  let answer: string;
  if (fromEnv !== undefined) {
    answer = fromEnv;
    const variable = `${env[`HOARD_${envName}`] !== undefined ? 'HOARD' : 'BORG'}_${envName}`;
    const message = `${answer} (from ${variable})`;
    io.stderr.write(json ? jsonLine({ env_var: variable, type: 'question_env_answer', msgid: null, message }) : `${message}\n`);
  } else {
    answer = await readLine(io.stdin);
    // A terminal echoed the line end already; a JSON prompt needs none.
    if ((io.stdin as { isTTY?: boolean }).isTTY !== true && !json) io.stderr.write('\n');
  }
  if (yes.includes(answer)) return;
  const no = ['', 'n', 'N', 'no', 'NO'];
  throw new AbortedError('HOARD_ABORTED', no.includes(answer) ? 'Aborting.' : 'Invalid answer, aborting.');
}
