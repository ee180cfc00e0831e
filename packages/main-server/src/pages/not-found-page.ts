import { escapeHtml, renderPage } from './html.js';

export function renderNotFoundPage(pathname: string): string {
  return renderPage(
    'Not found',
    `<h1>404 — not found</h1>
<p>The origin has no file at <code>${escapeHtml(pathname)}</code>.</p>
<p><a href="/">Back to the start page</a></p>`,
  );
}
