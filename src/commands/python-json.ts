/** A JSON value as {@link pythonJson} writes it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * JSON as Python's `json.dumps(value, sort_keys=True)` writes it, which borg's `--json-lines`
 * output of `diff` uses: keys sorted, `", "` and `": "` separators, non-ASCII as `\uXXXX`.
 */
export function pythonJson(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${pythonJson(k)}: ${pythonJson(value[k] as JsonValue)}`).join(', ')}}`;
}
