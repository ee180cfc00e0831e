import path from 'node:path';
import type { ListDir, ListFile } from '@fastify/static';
import { escapeHtml, renderPage } from './html.js';

/**
 * `list.render` for @fastify/static: an HTML table of a directory that has no index.html. The
 * hrefs are absolute paths built by the plugin; the directory's own path is read back from them,
 * because the plugin does not pass it to `render`.
 */
export function renderDirectoryListing(dirs: ListDir[], files: ListFile[]): string {
  const first = dirs[0] ?? files[0];
  const directory = first ? ensureTrailingSlash(path.posix.dirname(first.href)) : undefined;
  const title = directory ? `Index of ${decodeHref(directory)}` : 'Empty directory';
  const rows = [
    ...(directory && directory !== '/' ? [row('../', '..', '', '')] : []),
    ...dirs.map((dir) => row(`${dir.href}/`, `${dir.name}/`, '', formatDate(dir.stats.mtime))),
    ...files.map((file) => row(file.href, file.name, formatSize(file.stats.size), formatDate(file.stats.mtime))),
  ];
  const table = rows.length
    ? `<table>
<thead><tr><th>Name</th><th class="num">Size</th><th>Modified</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`
    : '<p>This directory is empty.</p>';
  return renderPage(title, `<h1>${escapeHtml(title)}</h1>\n${table}`);
}

function row(href: string, name: string, size: string, modified: string): string {
  return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(name)}</a></td><td class="num">${size}</td><td>${modified}</td></tr>`;
}

function ensureTrailingSlash(pathname: string): string {
  return pathname.endsWith('/') ? pathname : `${pathname}/`;
}

function decodeHref(href: string): string {
  try {
    return decodeURIComponent(href);
  } catch {
    return href;
  }
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

function formatDate(date: Date): string {
  return date.toISOString().replace('T', ' ').slice(0, 16);
}
