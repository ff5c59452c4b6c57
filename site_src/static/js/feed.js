/* Feed page: recent titles, re-ranked by the visitor's taste (taste.js fold-in over the
 * published embeddings; without them, by the tags of liked and disliked titles), with the
 * reason shown for each; like / dislike on every card. Nothing leaves the browser: only
 * static files are fetched. */
import {data, itemFacts} from './site.js';
import {initRateButtons, isDislike, isLike, ratings, tasteScores} from './profile.js';
import {NOT_PULLED, pulledText, pulledUpBy, sharedTags, sharedWithText} from './picks.js';

const status = document.getElementById('feed-status');
const list = document.getElementById('feed');
const rerankBox = document.getElementById('feed-rerank');
initRateButtons(function () {
  rerankBox.hidden = false;
});
document.getElementById('rerank').addEventListener('click', function () {
  rerankBox.hidden = true;
  rerank();
});

function rerank() {
  const pairs = ratings();
  const liked = pairs.filter(function (x) { return isLike(x[1]); }).map(function (x) { return x[0]; });
  const disliked = pairs.filter(function (x) { return isDislike(x[1]); }).map(function (x) { return x[0]; });
  const rated = new Map(pairs);
  if (!pairs.length) {
    list.querySelectorAll('li[data-id]').forEach(function (li) { li.querySelector('.why').hidden = true; });
    const byOrder = Array.from(list.querySelectorAll('li[data-id]'))
      .sort(function (a, b) { return Number(a.dataset.order) - Number(b.dataset.order); });
    byOrder.forEach(function (li) { list.appendChild(li); });
    status.textContent = 'No ratings left: the feed is back in its original order.';
    return;
  }
  status.textContent = 'Re-ranking by your taste…';
  const infos = Promise.all(liked.concat(disliked).map(function (id) {
    return itemFacts(id).catch(function () { return {item: null}; });
  }));
  Promise.all([tasteScores(pairs), infos]).then(function (res) {
    const scores = res[0];
    const info = res[1];
    const weight = new Map();
    const likedItems = new Map();
    info.forEach(function (x, k) {
      if (!x.item) return;
      const w = k < liked.length ? 1 : -1;
      if (w > 0) likedItems.set(liked[k], x.item);
      x.item.g.forEach(function (t) { weight.set(t, (weight.get(t) || 0) + w); });
    });
    const rows = data.items.map(function (pair, order) {
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
    const explain = Promise.all(rows.map(function (r) {
      return scores && !rated.has(r.id) ? pulledUpBy(pairs, r.id, 2) : Promise.resolve(null);
    }));
    return explain.then(function (pulled) {
      const lis = new Map();
      list.querySelectorAll('li[data-id]').forEach(function (li) { lis.set(li.dataset.id, li); });
      rows.forEach(function (r, k) {
        const li = lis.get(r.id);
        if (!li) return;
        list.appendChild(li);
        const why = li.querySelector('.why');
        why.hidden = false;
        why.textContent = reason(r, rated, likedItems, pulled[k]);
      });
      status.textContent = 'Ranked for you from ' + liked.length + ' liked and ' + disliked.length +
        ' disliked titles (' + (scores ? 'your taste vector, fitted in this browser' : 'the tags of the titles you rated') +
        '). Titles you already rated come last. Manage your ratings on the For you page.';
    });
  }).catch(function (e) { status.textContent = 'Could not personalise the feed: ' + e.message; });
}

/* A taste-ranked card names the liked titles that pull it up (taste.js explain); the
 * tag fallback names the tags it shares with a liked title. */
function reason(r, rated, likedItems, pulled) {
  const v = rated.get(r.id);
  if (v !== undefined) return isLike(v) ? 'You liked this.' : (isDislike(v) ? 'You disliked this.' : 'You rated this.');
  if (pulled) {
    const names = pulled.map(function (id) { return likedItems.get(id); }).filter(Boolean);
    return pulledText(names.map(function (it) { return it.t; }), NOT_PULLED);
  }
  let best = null;
  likedItems.forEach(function (it) {
    const s = sharedTags(r.g, it.g);
    if (s && (!best || s.split(', ').length > best.s.split(', ').length)) best = {title: it.t, s: s};
  });
  return best ? sharedWithText(best.s, best.title) : sharedWithText('');
}

if (ratings().length) rerank();
