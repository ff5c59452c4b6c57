/* Feed page: recent titles, re-ranked by the visitor's taste (taste.js fold-in over the
 * published embeddings; without them, by the tags of liked and disliked titles), with the
 * reason shown for each. Nothing leaves the browser: only static files are fetched. */
(function () {
  'use strict';
  const M = globalThis.Mangarec;
  const tags = M.data.tags || [];
  const status = document.getElementById('feed-status');
  const list = document.getElementById('feed');
  const pairs = M.ratings();
  if (!M.profile() || !pairs.length) return;
  const liked = pairs.filter(function (x) { return M.isLike(x[1]); }).map(function (x) { return x[0]; });
  const disliked = pairs.filter(function (x) { return M.isDislike(x[1]); }).map(function (x) { return x[0]; });
  const rated = new Map(pairs);
  status.textContent = 'Re-ranking by your taste…';

  const infos = Promise.all(liked.concat(disliked).map(function (id) {
    return M.itemInfo(id).catch(function () { return {item: null}; });
  }));

  Promise.all([M.tasteScores(pairs), infos]).then(function (res) {
    const scores = res[0];
    const info = res[1];
    const weight = new Map();
    const likedItems = [];
    info.forEach(function (x, k) {
      if (!x.item) return;
      const w = k < liked.length ? 1 : -1;
      if (w > 0) likedItems.push(x.item);
      x.item.g.forEach(function (t) { weight.set(t, (weight.get(t) || 0) + w); });
    });
    const rows = M.data.items.map(function (pair, order) {
      const id = pair[0];
      const g = pair[1];
      let tagScore = 0;
      g.forEach(function (t) { tagScore += weight.get(t) || 0; });
      tagScore = g.length ? tagScore / Math.sqrt(g.length) : 0;
      let score = scores ? (scores.has(id) ? scores.get(id) : -Infinity) : tagScore;
      if (rated.has(id)) score = -Infinity;
      return {id: id, g: g, order: order, score: score};
    });
    rows.sort(function (a, b) { return (b.score - a.score) || (a.order - b.order); });
    const lis = new Map();
    list.querySelectorAll('li[data-id]').forEach(function (li) { lis.set(li.dataset.id, li); });
    rows.forEach(function (r) {
      const li = lis.get(r.id);
      if (!li) return;
      list.appendChild(li);
      const why = li.querySelector('.why');
      why.hidden = false;
      why.textContent = reason(r, likedItems);
    });
    status.textContent = 'Ranked for you from ' + liked.length + ' liked and ' + disliked.length +
      ' disliked titles (' + (scores ? 'your taste vector, fitted in this browser' : 'the tags of the titles you rated') +
      '). Titles you already rated come last. Manage your ratings on the For you page.';
  }).catch(function (e) { status.textContent = 'Could not personalise the feed: ' + e.message; });

  function reason(r, likedItems) {
    const v = rated.get(r.id);
    if (v !== undefined) return M.isLike(v) ? 'You liked this.' : (M.isDislike(v) ? 'You disliked this.' : 'You rated this.');
    let best = null;
    likedItems.forEach(function (it) {
      const shared = r.g.filter(function (t) { return it.g.indexOf(t) >= 0; });
      if (!best || shared.length > best.shared.length) best = {title: it.t, shared: shared};
    });
    if (!best || !best.shared.length) return 'Shares no tag with the titles you liked.';
    return 'Shares ' + best.shared.slice(0, 4).map(function (t) { return tags[t]; }).join(', ') +
      ' with “' + best.title + '”, which you liked.';
  }
})();
