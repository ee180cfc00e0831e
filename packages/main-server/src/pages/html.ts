/** The small HTML pages the origin generates itself (listings, 404), sharing one look. */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

// Inline rather than /style.css: the served root may be any folder, not the demo site.
const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; color: #1f2933; background: #f8fafc; margin: 0; }
  main { max-width: 44rem; margin: 3rem auto; padding: 0 1.25rem; }
  h1 { font-size: 1.5rem; font-weight: 650; }
  a { color: #2563eb; text-decoration: none; } a:hover { text-decoration: underline; }
  table { width: 100%; border-collapse: collapse; background: #fff; border-radius: 8px; overflow: hidden;
    box-shadow: 0 1px 3px rgb(0 0 0 / 0.08); }
  th, td { text-align: left; padding: 0.5rem 0.9rem; border-bottom: 1px solid #e5e7eb; }
  th { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; color: #64748b; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  code { font: 0.9em ui-monospace, monospace; background: #eef2f7; padding: 0.1em 0.35em; border-radius: 4px; }
  footer { margin-top: 2rem; color: #64748b; font-size: 0.85rem; }
`;

/** A complete HTML document; `body` must already be escaped. */
export function renderPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
<footer>main-server, the origin behind simple-cache</footer>
</main>
</body>
</html>
`;
}
