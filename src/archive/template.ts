/**
 * The field syntax of Python's `str.format` as borg uses it for `--format` and placeholders: literal
 * text with `{{` and `}}` escapes, and fields `{key}` or `{key:spec}`. Conversions (`!r`), attribute
 * and index access, positional and nested fields are refused, as borg refuses them or fails on them.
 */
import { InvalidArgumentError } from '../errors.js';

/** A replacement field: the key and its format spec ('' when none). */
export interface TemplateField {
  readonly key: string;
  readonly spec: string;
}

/** A parsed template: literal strings and fields, in order. */
export type TemplatePart = string | TemplateField;

/**
 * Splits `text` into literals and fields as Python's formatter does. `what` names the template in
 * errors (`format`, `placeholder text`).
 */
export function parseTemplate(text: string, what: string): TemplatePart[] {
  const fail = (why: string): InvalidArgumentError =>
    new InvalidArgumentError('HOARD_INVALID_ARGUMENT', `invalid ${what} ${JSON.stringify(text)}: ${why}`);
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const open = text.indexOf('{', i);
    const close = text.indexOf('}', i);
    if (open < 0 && close < 0) {
      literal += text.slice(i);
      break;
    }
    if (close >= 0 && (open < 0 || close < open)) {
      if (text[close + 1] !== '}') throw fail("a single '}' must be written '}}'");
      literal += text.slice(i, close + 1);
      i = close + 2;
      continue;
    }
    literal += text.slice(i, open);
    if (text[open + 1] === '{') {
      literal += '{';
      i = open + 2;
      continue;
    }
    // A field: find its closing brace, counting nested braces as Python does.
    let depth = 1;
    let j = open + 1;
    for (; j < n; j++) {
      const c = text[j];
      if (c === '{') depth++;
      else if (c === '}' && --depth === 0) break;
    }
    if (j >= n) throw fail(`'{' at offset ${open} is not closed (a literal '{' is written '{{')`);
    const body = text.slice(open + 1, j);
    const cut = body.search(/[:!]/);
    const key = cut < 0 ? body : body.slice(0, cut);
    if (key === '') throw fail(`empty field '{${body}}' (fields need a key, a literal '{' is written '{{')`);
    if (cut >= 0 && body[cut] === '!') throw fail(`conversions such as '!r' are not supported in '{${body}}'`);
    if (/[.[\]]/.test(key)) throw fail(`attribute and index access are not supported in '{${body}}'`);
    const spec = cut < 0 ? '' : body.slice(cut + 1);
    if (spec.includes('{') || spec.includes('}')) throw fail(`nested fields are not supported in '{${body}}'`);
    if (literal) parts.push(literal);
    literal = '';
    parts.push({ key, spec });
    i = j + 1;
  }
  if (literal) parts.push(literal);
  return parts;
}
