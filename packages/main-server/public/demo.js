// "Fetch again": asks simple-cache for a few resources and shows its verdict for each.
const RESOURCES = ['/', '/style.css', '/logo.svg', '/about.html', '/files/hello.txt'];

async function ask(path) {
  // `no-store` keeps the browser's own cache out of the way, but on its own it would also add
  // `Cache-Control: no-cache` to the request, forcing simple-cache to revalidate every time.
  // Sending our own (neutral) Cache-Control stops the browser from adding that.
  const response = await fetch(path, { cache: 'no-store', headers: { 'cache-control': 'max-stale=0' } });
  await response.arrayBuffer();
  const header = (name) => response.headers.get(name) ?? '—';
  return {
    path,
    xCache: header('x-cache'),
    age: header('age'),
    count: header('x-origin-request-count'),
    cacheStatus: header('cache-status'),
  };
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function statusClass(xCache) {
  if (xCache === 'HIT' || xCache === 'REVALIDATED') return 'status hit';
  if (xCache === '—') return '';
  return 'status miss';
}

async function refresh() {
  const body = document.querySelector('#results tbody');
  const rows = await Promise.all(RESOURCES.map((path) => ask(path).catch((error) => ({ path, error }))));
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement('tr');
      if (row.error) {
        tr.append(cell(row.path), cell(String(row.error)), cell(''), cell(''), cell(''));
      } else {
        const link = document.createElement('a');
        link.href = row.path;
        link.textContent = row.path;
        const first = cell('');
        first.append(link);
        tr.append(first, cell(row.xCache, statusClass(row.xCache)), cell(row.age), cell(row.count), cell(row.cacheStatus));
      }
      return tr;
    }),
  );
}

window.addEventListener('DOMContentLoaded', () => {
  document.querySelector('#ask').addEventListener('click', refresh);
});
