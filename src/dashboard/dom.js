// The dashboard's DOM helpers: elements built without parsing HTML (everything shown may come
// from agents' reports, which anyone with Send on the queue can write), and durations as text.

/** Creates an element: h('div', { class: 'x' }, 'text', child). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style') Object.assign(el.style, v); // CSSOM, which the page's CSP allows
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function duration(ms) {
  let s = Math.max(0, Math.round(ms / 1000));
  const parts = [];
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (s >= n || (u === 's' && parts.length === 0)) parts.push(`${Math.floor(s / n)}${u}`);
    s %= n;
  }
  return parts.slice(0, 2).join(' ');
}

/**
 * Elements whose text depends on the clock carry data-since (time since), data-ago ("… ago") or
 * data-until (a countdown); tick() refreshes them every second.
 */
export function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-since]')) el.textContent = duration(now - Date.parse(el.dataset.since));
  for (const el of document.querySelectorAll('[data-ago]')) el.textContent = `${duration(now - Date.parse(el.dataset.ago))} ago`;
  for (const el of document.querySelectorAll('[data-until]')) {
    const left = Date.parse(el.dataset.until) - now;
    el.textContent = left > 0 ? `in ${duration(left)}` : `${duration(-left)} ago`;
    el.classList.toggle('soon', left > 0 && left < 3 * 60_000);
  }
}
