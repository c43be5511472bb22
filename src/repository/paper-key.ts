import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

import { AbortedError, InvalidArgumentError } from '../errors.js';

/**
 * The paper form of a key export (docs/format.md section 10.14), modelled on borg's: the key
 * file's payload (the bytes its base64 line encodes) as numbered lines of 18 bytes in hex, each
 * with a two-digit checksum, after an id line naming the line count, the start of the repository
 * id and a checksum of the whole.
 */

/** The line that names the format. */
export const PAPER_KEY_HEADER = 'HOARD PAPER KEY v1';

/** Payload bytes per numbered line. */
const BYTES_PER_LINE = 18;
/** Hex digits of the repository id on the id line. */
const ID_DIGITS = 18;
/** Hex digits of the whole payload's checksum on the id line. */
const TOTAL_DIGITS = 12;

/** The first `digits` hex digits of SHA-256(`data`). */
function sha256Hex(data: Buffer, digits: number): string {
  return createHash('sha256').update(data).digest('hex').slice(0, digits);
}

/** Hex in groups of six digits, for reading aloud and typing. */
function grouped(hex: string): string {
  return (hex.match(/.{1,6}/g) ?? []).join(' ');
}

/** The checksum of numbered line `index` holding `bytes`: SHA-256 of the index (2 bytes, big-endian) and the bytes. */
function lineChecksum(index: number, bytes: Buffer): string {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(index);
  return sha256Hex(Buffer.concat([prefix, bytes]), 2);
}

/** What the id line says. */
export interface PaperKeyId {
  /** How many numbered lines follow. */
  lines: number;
  /** The first 18 hex digits of the repository id. */
  repository: string;
  /** The first 12 hex digits of SHA-256 of the whole payload. */
  checksum: string;
}

/** The paper text of a key file's `payload` for repository `repoId` (hex); `repo` names it in the hint. */
export function formatPaperKey(payload: Buffer, repoId: string, repo: string): string {
  const lines = Math.ceil(payload.length / BYTES_PER_LINE);
  const repository = repoId.slice(0, ID_DIGITS);
  const total = sha256Hex(payload, TOTAL_DIGITS);
  const idData = `${lines}/${repository}/${total}`;
  const out = [
    `To restore this key, run: hoard key import --paper ${repo}`,
    '',
    PAPER_KEY_HEADER,
    `id: ${lines} / ${grouped(repository)} / ${grouped(total)} - ${sha256Hex(Buffer.from(idData, 'ascii'), 2)}`,
  ];
  for (let i = 0; i < lines; i += 1) {
    const bytes = payload.subarray(i * BYTES_PER_LINE, (i + 1) * BYTES_PER_LINE);
    out.push(`${String(i + 1).padStart(2)}: ${grouped(bytes.toString('hex'))} - ${lineChecksum(i + 1, bytes)}`);
  }
  return `${out.join('\n')}\n`;
}

/** A line that does not check out; `message` says why, for the user to type it again. */
class LineError extends Error {}

/** Splits `data - checksum` (spaces removed) into its two halves. */
function splitChecksum(text: string): [string, string] {
  const parts = text.replace(/\s+/g, '').toLowerCase().split('-');
  if (parts.length !== 2 || parts[0] === undefined || parts[1] === undefined) {
    throw new LineError("each line must hold exactly one '-' before its checksum");
  }
  return [parts[0], parts[1]];
}

/** Parses the id line (without its `id:` label). */
function parseIdLine(text: string): PaperKeyId {
  const [data, checksum] = splitChecksum(text);
  const fields = data.split('/');
  if (fields.length !== 3) throw new LineError("the id line must hold three fields separated by '/'");
  const [lines, repository, total] = fields as [string, string, string];
  if (sha256Hex(Buffer.from(data, 'ascii'), 2) !== checksum) throw new LineError('the id line checksum does not match');
  if (!/^[1-9]\d{0,3}$/.test(lines) || !/^[0-9a-f]{18}$/.test(repository) || !/^[0-9a-f]{12}$/.test(total)) {
    throw new LineError('the id line is malformed');
  }
  return { lines: Number(lines), repository, checksum: total };
}

/** Parses numbered line `index` (without its label) into its bytes. */
function parseDataLine(index: number, text: string): Buffer {
  const [data, checksum] = splitChecksum(text);
  if (!/^([0-9a-f]{2})+$/.test(data)) throw new LineError(`line ${index} may only hold the digits 0-9 and a-f before its '-'`);
  const bytes = Buffer.from(data, 'hex');
  if (bytes.length > BYTES_PER_LINE || lineChecksum(index, bytes) !== checksum) {
    throw new LineError(`line ${index}: the checksum does not match (a typo in that line?)`);
  }
  return bytes;
}

/** The payload of `parts` if it matches the id line's overall checksum. */
function assemble(id: PaperKeyId, parts: Buffer[]): Buffer | undefined {
  const payload = Buffer.concat(parts);
  return sha256Hex(payload, TOTAL_DIGITS) === id.checksum ? payload : undefined;
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `paper key: ${message}`);
}

/** A paper key that was read back: its id line and the payload it spells. */
export interface PaperKey {
  id: PaperKeyId;
  payload: Buffer;
}

/**
 * Reads a paper key from text as `key export --paper` wrote it (or as typed from the print):
 * lines that start neither with `id:` nor with a number and a colon are skipped. A wrong line is
 * one error naming that line.
 */
export function parsePaperKey(text: string): PaperKey {
  let id: PaperKeyId | undefined;
  const parts: Buffer[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(id|\d+)\s*:(.*)$/i.exec(raw);
    if (m === null || m[1] === undefined || m[2] === undefined) continue;
    try {
      if (m[1].toLowerCase() === 'id') {
        if (id !== undefined) throw new LineError('it holds two id lines');
        id = parseIdLine(m[2]);
        continue;
      }
      if (id === undefined) throw new LineError('the id line must come before the numbered lines');
      const index = Number(m[1]);
      if (index !== parts.length + 1) {
        throw new LineError(index <= parts.length ? `line ${index} appears twice` : `line ${parts.length + 1} is missing`);
      }
      if (index > id.lines) throw new LineError(`line ${index}: the id line says the key has ${id.lines} lines`);
      parts.push(parseDataLine(index, m[2]));
    } catch (e) {
      if (e instanceof LineError) throw invalid(e.message);
      throw e;
    }
  }
  if (id === undefined) throw invalid('no id line found (it starts with "id:")');
  if (parts.length < id.lines) throw invalid(`line ${parts.length + 1} is missing (the id line says the key has ${id.lines} lines)`);
  const payload = assemble(id, parts);
  if (payload === undefined) throw invalid('the overall checksum does not match: the lines are not of one key, or not in order');
  return { id, payload };
}

/** The streams an interactive paper key entry uses. */
export interface PaperIo {
  stdin: Readable;
  stderr: Writable;
}

/** Reads one line from `input` (undefined at the end of input); bytes after it are put back. */
function readLine(input: Readable): Promise<string | undefined> {
  if (input.readableEnded || !input.readable) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const finish = (value: string | undefined, rest?: Buffer): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      if (rest !== undefined && rest.length > 0) input.unshift(rest);
      resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        parts.push(buf);
        return;
      }
      parts.push(buf.subarray(0, nl));
      finish(Buffer.concat(parts).toString('utf8').replace(/\r$/, ''), buf.subarray(nl + 1));
    };
    const onEnd = (): void => finish(parts.length > 0 ? Buffer.concat(parts).toString('utf8') : undefined);
    const onError = (e: Error): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      reject(e);
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
    input.resume();
  });
}

/**
 * Asks for a paper key line by line on a terminal, as borg does: the id line, then each numbered
 * line, checking each as it comes and asking again for a wrong one; an empty line offers to
 * abort, and the end of input aborts ({@link AbortedError}). If the whole does not check out,
 * it starts again from the id line. `repoId` (hex) is the repository the key must belong to.
 */
export async function readPaperKeyInteractive(io: PaperIo, repoId: string): Promise<PaperKey> {
  const aborted = (): AbortedError => new AbortedError('HOARD_ABORTED', 'key import aborted');
  const ask = async (prompt: string): Promise<string> => {
    for (;;) {
      io.stderr.write(prompt);
      const line = await readLine(io.stdin);
      if (line === undefined) {
        io.stderr.write('\n');
        throw aborted();
      }
      // A label typed along with the line (as printed) is dropped.
      const text = line.replace(/^\s*(id|\d+)\s*:/i, '');
      if (text.trim() !== '') return text;
      io.stderr.write('Abort import? [yN]: ');
      const answer = await readLine(io.stdin);
      if (answer === undefined || /^\s*y(es)?\s*$/i.test(answer)) throw aborted();
    }
  };
  for (;;) {
    let id: PaperKeyId;
    for (;;) {
      try {
        id = parseIdLine(await ask('id: '));
        break;
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        io.stderr.write(`${e.message}; try again\n`);
      }
    }
    if (id.repository !== repoId.slice(0, ID_DIGITS)) {
      throw new InvalidArgumentError('HOARD_KEY_OTHER_REPOSITORY', 'the paper key is for another repository: its id line names another repository id');
    }
    const parts: Buffer[] = [];
    while (parts.length < id.lines) {
      const index = parts.length + 1;
      try {
        parts.push(parseDataLine(index, await ask(`${String(index).padStart(2)}: `)));
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        io.stderr.write(`${e.message}; try again\n`);
      }
    }
    const payload = assemble(id, parts);
    if (payload !== undefined) return { id, payload };
    io.stderr.write('The overall checksum did not match: start again from the id line, or enter an empty line to abort.\n');
  }
}
