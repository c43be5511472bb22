import qrcode from 'qrcode-generator';

/** Modules of quiet zone around the QR code, as the QR standard asks. */
const QUIET = 4;

/** Escapes text for HTML content and attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * An SVG QR code (error correction level M) of `text`, drawn offline: one path of dark runs,
 * `M<x> <y>h<run>v1h-<run>z` per horizontal run of dark modules, in module units with a
 * four-module quiet zone.
 */
export function qrSvg(text: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const runs: string[] = [];
  for (let row = 0; row < n; row += 1) {
    for (let col = 0; col < n; ) {
      if (!qr.isDark(row, col)) {
        col += 1;
        continue;
      }
      let end = col;
      while (end < n && qr.isDark(row, end)) end += 1;
      runs.push(`M${col + QUIET} ${row + QUIET}h${end - col}v1h-${end - col}z`);
      col = end;
    }
  }
  const size = n + 2 * QUIET;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="${size * 4}" height="${size * 4}" ` +
    `shape-rendering="crispEdges" role="img" aria-label="QR code of the key"><rect width="${size}" height="${size}" fill="#fff"/>` +
    `<path fill="#000" d="${runs.join('')}"/></svg>`
  );
}

/**
 * A printable HTML page of a key export: a QR code of the key file text `keyText` (what
 * `key import` reads from a file) and the paper text `paperText` (what `key import --paper`
 * reads), for repository `repo`. It needs no network and no script.
 */
export function paperKeyHtml(keyText: string, paperText: string, repo: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hoard key backup: ${escapeHtml(repo)}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
pre { font-family: monospace; font-size: 11pt; line-height: 1.4; }
svg { display: block; margin: 1em 0; }
@media print { body { margin: 0; } }
</style>
</head>
<body>
<h1>hoard key backup</h1>
<p>Repository: <code>${escapeHtml(repo)}</code></p>
<p>This is the repository's key, sealed under its passphrase: keep it and the passphrase safe, apart from each other.
To restore the key, scan the QR code into a file and run <code>hoard key import REPOSITORY FILE</code>,
or type the lines below into <code>hoard key import --paper REPOSITORY</code>.</p>
${qrSvg(keyText)}
<pre>
${escapeHtml(paperText)}</pre>
</body>
</html>
`;
}
