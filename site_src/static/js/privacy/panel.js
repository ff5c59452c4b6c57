/* The "Contribute anonymously" panel of For you (rendered only when the site is built with
 * privacy.collect_url). It shows exactly what would be sent (title and value of every rating
 * that maps to this build's index), starts the protocol in a Web Worker on the button, shows
 * where it stands and ends with a receipt. Loads nothing heavy before the click: the worker
 * and libsodium are fetched only when the visitor contributes. */

const MAX_RATINGS = 2560; // 64 parts x 40 ratings: one profile

/** What a like, a dislike and a score become in the collected file (data/collect.json "values"). */
export function collectedValue(v, values = { like: 8, dislike: 1, scale: [1, 10] }) {
  if (v === 'like') return values.like;
  if (v === 'dislike') return values.dislike;
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  return Math.min(values.scale[1], Math.max(values.scale[0], Math.floor(v + 0.5)));
}

/** [[index, value, title]] sorted by index, from [[id, raw value]] and the build's index. */
export function toSend(ratings, index, values) {
  const row = new Map(index.ids.map((id, i) => [String(id), i]));
  const byIndex = new Map(); // as site_collect.to_indices: one value per title, the last given
  for (const [id, raw] of ratings) {
    const i = row.get(String(id)), v = collectedValue(raw, values);
    if (i !== undefined && v !== null) byIndex.set(i, [i, v, index.titles ? index.titles[i] : String(id)]);
  }
  const out = [...byIndex.values()].sort((a, b) => a[0] - b[0]);
  return out.slice(0, MAX_RATINGS);
}

function text(el, s) { if (el) el.textContent = s; }

export function describe(p) {
  if (p.stage === 'restart') return 'The collection server restarted: joining again…';
  if (p.stage === 'work') return 'Proving this is a real browser (a small computation)…';
  if (p.stage === 'waiting') return `Waiting for others: ${p.waiting} of ${p.min}`;
  if (p.stage === 'setup') return p.advertised !== undefined ? `Waiting for others: ${p.advertised} of ${p.users}` : 'Setting up keys…';
  return `Round ${p.step} of 3${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}`;
}

export function receiptText(r) {
  if (r.ok) return `Done: ${r.collected} of your ${r.sent} ratings were collected, among ${r.profiles ?? r.among ?? r.contributors} contributors.`;
  if (r.dropped) return `The collection went on without this browser; ${r.collected} of your ${r.sent} ratings were collected.`;
  return `Not collected: ${r.error || r.state}.`;
}

async function main() {
  const panel = document.getElementById('contribute');
  const cfgEl = document.getElementById('collect-config');
  if (!panel || !cfgEl) return;
  const cfg = JSON.parse(cfgEl.textContent);
  const list = document.getElementById('contribute-list');
  const status = document.getElementById('contribute-status');
  const button = document.getElementById('contribute-btn');
  // the visitor's ratings from the module For you itself uses (the same URL: the same instance)
  const P = await import(new URL(cfg.profile, location.href).href);
  const collect = await (await fetch(cfg.collect_json)).json();
  const index = await (await fetch(new URL(collect.index, new URL(cfg.collect_json, location.href)))).json();
  let rows = [];
  function render() {
    rows = toSend(P.ratings(), index, collect.values);
    list.replaceChildren(...rows.map(([, v, t]) => { const li = document.createElement('li'); li.textContent = `${t}: ${v}`; return li; }));
    button.disabled = rows.length === 0;
    if (!rows.length) text(status, 'Rate a few titles first: there is nothing to send yet.');
  }
  // one profile per collection: this browser does not offer a second contribution to the same
  // build's index (the collector refuses a second token to one identity in any case)
  const doneKey = `mangarec.contributed.${collect.catalog_hash}`;
  const store = (() => { try { return globalThis.localStorage; } catch (e) { return null; } })();
  render();
  panel.hidden = false;
  if (store && store.getItem(doneKey)) {
    button.disabled = true;
    text(status, `This browser already contributed to this collection: ${store.getItem(doneKey)}`);
    return;
  }
  // the list follows the visitor's rating buttons (this page) and other tabs (storage events)
  document.addEventListener('click', (e) => { if (e.target.closest && e.target.closest('[data-rate]')) setTimeout(render, 0); });
  window.addEventListener('storage', render);
  button.addEventListener('click', () => {
    button.disabled = true;
    text(status, 'Starting…');
    const worker = new Worker(cfg.worker, { type: 'module' });
    worker.onmessage = (ev) => {
      const d = ev.data;
      if (d.progress) text(status, describe(d.progress));
      if (d.receipt) {
        text(status, receiptText(d.receipt));
        panel.dataset.receipt = JSON.stringify(d.receipt);
        worker.terminate();
        if (d.receipt.ok && store) store.setItem(doneKey, receiptText(d.receipt));
        else button.disabled = false;
      }
      if (d.error) { text(status, `Not collected: ${d.error}`); panel.dataset.error = d.error; worker.terminate(); button.disabled = false; }
    };
    worker.postMessage({ start: {
      sodium: new URL(cfg.sodium, location.href).href, collectUrl: collect.collect_url, catalog: collect.catalog_hash,
      minCohort: Math.max(2, collect.min_cohort), ratings: rows.map(([i, v]) => [i, v]),
    } });
  });
}

if (typeof document !== 'undefined') main().catch((e) => { const s = document.getElementById('contribute-status'); if (s) s.textContent = `Contribution unavailable: ${e.message}`; });
