// The traffic chart: requests per second as bars, hit ratio as a line, drawn as SVG.
import { formatSeconds, svg } from './format.js';

/** Per-second series → bars of `bin` seconds: requests/s and hit ratio (null where nothing was cacheable). */
function binSeries(history, seconds) {
  const bin = seconds <= 60 ? 1 : seconds <= 300 ? 5 : 10;
  const take = (series) => series.slice(-seconds);
  const requests = take(history.requests);
  const fromCache = take(history.fromCache);
  const cacheable = take(history.cacheable);
  const bins = [];
  for (let start = 0; start < requests.length; start += bin) {
    const sum = (series) => series.slice(start, start + bin).reduce((total, n) => total + n, 0);
    const hits = sum(fromCache);
    const possible = sum(cacheable);
    bins.push({ rate: sum(requests) / bin, ratio: possible === 0 ? null : hits / possible });
  }
  return { bins, bin };
}

/** The smallest 1, 2, 2.5 or 5 × 10ⁿ at least `value`. */
function niceStep(value) {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5]) if (value <= step * magnitude * (1 + 1e-9)) return step * magnitude;
  return 10 * magnitude;
}

/** A y axis with round ticks, as tight above `max` as 3, 4 or 5 of them allow. */
function niceAxis(max) {
  if (max <= 0) return { top: 1, ticks: 4 };
  let best = { top: Infinity, ticks: 4 };
  for (const ticks of [4, 5, 3]) {
    const top = niceStep(max / ticks) * ticks;
    if (top < best.top - 1e-9) best = { top, ticks };
  }
  return best;
}

export function renderChart(host, history, seconds) {
  const width = Math.max(320, host.clientWidth);
  const height = host.clientHeight || 230;
  const pad = { left: 44, right: 44, top: 10, bottom: 26 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const { bins } = binSeries(history, seconds);
  const axis = niceAxis(Math.max(...bins.map((b) => b.rate), 0));
  const maxRate = axis.top;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none' });

  for (let i = 0; i <= axis.ticks; i++) {
    const y = pad.top + innerH - (innerH * i) / axis.ticks;
    chart.append(svg('line', { class: 'gridline', x1: pad.left, x2: width - pad.right, y1: y, y2: y }));
    const left = svg('text', { class: 'axis', x: pad.left - 8, y: y + 4, 'text-anchor': 'end' });
    left.textContent = String(Number(((maxRate * i) / axis.ticks).toFixed(2)));
    const right = svg('text', { class: 'axis', x: width - pad.right + 8, y: y + 4 });
    right.textContent = `${Math.round((i * 100) / axis.ticks)}%`;
    chart.append(left, right);
  }
  const slot = innerW / Math.max(1, bins.length);
  const barWidth = Math.max(1, slot * 0.68);
  bins.forEach((b, i) => {
    if (b.rate <= 0) return;
    const h = Math.max(1.5, (b.rate / maxRate) * innerH);
    chart.append(
      svg('rect', {
        class: 'bar-requests',
        x: pad.left + i * slot + (slot - barWidth) / 2,
        y: pad.top + innerH - h,
        width: barWidth,
        height: h,
        rx: Math.min(3, barWidth / 3),
      }),
    );
  });

  // The hit-ratio line, broken where nothing cacheable happened.
  const xOf = (i) => pad.left + i * slot + slot / 2;
  const yOf = (ratio) => pad.top + innerH - ratio * innerH;
  let run = [];
  const flush = () => {
    if (run.length === 0) return;
    const points = run.map(([i, r]) => `${xOf(i).toFixed(1)},${yOf(r).toFixed(1)}`);
    if (run.length > 1) {
      const first = xOf(run[0][0]).toFixed(1);
      const last = xOf(run[run.length - 1][0]).toFixed(1);
      const base = (pad.top + innerH).toFixed(1);
      chart.append(svg('path', { class: 'area-ratio', d: `M${first},${base}L${points.join('L')}L${last},${base}Z` }));
      chart.append(svg('polyline', { class: 'line-ratio', points: points.join(' ') }));
    } else {
      const [i, r] = run[0];
      chart.append(svg('circle', { class: 'line-ratio', cx: xOf(i), cy: yOf(r), r: 1.5 }));
    }
    run = [];
  };
  bins.forEach((b, i) => (b.ratio === null ? flush() : run.push([i, b.ratio])));
  flush();

  const labels = [
    [0, `−${formatSeconds(seconds)}`, 'start'],
    [0.5, `−${formatSeconds(seconds / 2)}`, 'middle'],
    [1, 'now', 'end'],
  ];
  for (const [at, text, anchor] of labels) {
    const label = svg('text', { class: 'axis', x: pad.left + innerW * at, y: height - 6, 'text-anchor': anchor });
    label.textContent = text;
    chart.append(label);
  }
  if (bins.every((b) => b.rate === 0)) {
    const empty = svg('text', {
      class: 'empty',
      x: pad.left + innerW / 2,
      y: pad.top + innerH / 2,
      'text-anchor': 'middle',
    });
    empty.textContent = 'No requests in this period';
    chart.append(empty);
  }
  host.replaceChildren(chart);
}
