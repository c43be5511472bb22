/** A JSON value as {@link pythonJson} writes it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * JSON as Python's `json.dumps(value, sort_keys=True)` writes it, which borg's `--json-lines`
 * output of `diff` uses: keys sorted, `", "` and `": "` separators, non-ASCII as `\uXXXX`.
 * With `sortKeys` false, keys stay in their order (`json.dumps(value)`, as `list --json-lines`).
 */
export function pythonJson(value: JsonValue, sortKeys = true): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => pythonJson(v, sortKeys)).join(', ')}]`;
  const keys = sortKeys ? Object.keys(value).sort() : Object.keys(value);
  return `{${keys.map((k) => `${pythonJson(k)}: ${pythonJson(value[k] as JsonValue, sortKeys)}`).join(', ')}}`;
}
