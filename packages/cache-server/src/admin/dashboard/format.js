// Formatting and DOM helpers shared by the dashboard's modules.

const SVG = 'http://www.w3.org/2000/svg';

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${Number(value.toFixed(digits))} ${units[unit]}`;
}

export function formatSeconds(seconds) {
  const s = Math.abs(Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86400)
    return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ''}`;
}

export const integer = new Intl.NumberFormat('en-US');

export function formatRate(perSecond) {
  if (perSecond >= 100) return integer.format(Math.round(perSecond));
  return perSecond.toFixed(perSecond >= 10 ? 1 : 2);
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}

/**
 * A stored variant's secondary key (`accept-encoding:br;accept-language`, values URI-encoded,
 * policy/keys.ts secondaryKey) as a person reads it: `accept-encoding: br · accept-language: (none)`.
 */
export function formatVariant(variant) {
  if (variant === '*') return 'Vary: *';
  return variant
    .split(';')
    .map((part) => {
      const colon = part.indexOf(':');
      return colon < 0 ? `${part}: (none)` : `${part.slice(0, colon)}: ${decodeURIComponent(part.slice(colon + 1))}`;
    })
    .join(' · ');
}

export function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}
