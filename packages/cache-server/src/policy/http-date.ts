/**
 * HTTP-date (RFC 9110 §5.6.7): IMF-fixdate plus the two obsolete forms recipients must accept.
 * Strict about layout (Date.parse would take "0" or "2050-08-18" and invent a time), lenient
 * only about letter case, which RFC 9110 §5.6.7 calls case-sensitive but which costs nothing to
 * accept. Anything else is invalid: for Expires that means "already expired" (RFC 9111 §5.3).
 *
 * Internal to the policy module (not re-exported from index.ts).
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY = '(?:mon|tue|wed|thu|fri|sat|sun)';
const DAY_LONG = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d\\d):(\\d\\d):(\\d\\d)';

const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d\\d) ${MONTH} (\\d{4}) ${TIME} gmt$`, 'i');
const RFC850_DATE = new RegExp(`^${DAY_LONG}, (\\d\\d)-${MONTH}-(\\d\\d) ${TIME} gmt$`, 'i');
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`, 'i');

/**
 * Milliseconds since the epoch, or undefined when `value` is not an HTTP-date. `referenceTime`
 * (ms) resolves rfc850's two-digit years: one more than 50 years ahead of it is in the past
 * century (RFC 9110 §5.6.7).
 */
export function parseHttpDate(value: string | undefined, referenceTime = 0): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  let m = IMF_FIXDATE.exec(text);
  if (m) return toTime(m[3], m[2], m[1], m[4], m[5], m[6]);
  m = RFC850_DATE.exec(text);
  if (m) return toTime(resolveTwoDigitYear(Number(m[3]), referenceTime), m[2], m[1], m[4], m[5], m[6]);
  m = ASCTIME_DATE.exec(text);
  if (m) return toTime(m[6], m[1], (m[2] as string).trim(), m[3], m[4], m[5]);
  return undefined;
}

function resolveTwoDigitYear(twoDigits: number, referenceTime: number): number {
  const referenceYear = new Date(referenceTime).getUTCFullYear();
  let year = referenceYear - (referenceYear % 100) + twoDigits;
  if (year > referenceYear + 50) year -= 100;
  return year;
}

function toTime(
  year: string | number | undefined,
  month: string | undefined,
  day: string | undefined,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
): number | undefined {
  const [y, mo, d, h, mi, s] = [
    Number(year),
    MONTHS.indexOf((month ?? '').toLowerCase()),
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
  ];
  // RFC 9110 §5.6.7 allows second 60 (leap second); Date.UTC rolls it into the next minute.
  if (h > 23 || mi > 59 || s > 60 || d < 1) return undefined;
  // Rejects 31 Feb and friends, which Date.UTC would silently roll over.
  if (new Date(Date.UTC(y, mo, d)).getUTCDate() !== d) return undefined;
  return Date.UTC(y, mo, d, h, mi, s);
}
