/* For you: Mangaki-style onboarding (rate a dozen popular, diverse titles), then
 * recommendations computed in this browser; the list of rated titles with their like /
 * dislike in place; export / import / clear the ratings. */
import {data, el, itemFacts, itemInfo, titleHref} from './site.js';
import {initRateButtons, isDislike, isLike, modelTitle, profile, rateBox, ratedModel, ratings, syncAll} from './profile.js';
import {named as namedPick, recommend as recommendFor} from './taste.js';
import {neighbourText, pulledText, pulledUp, sharesText} from './picks.js';

const tags = data.tags || [];
const onboarding = data.onboarding || [];
/* The published model as its spec declares it (label; trained on ratings or on content). */
const published = data.published || null;
const MIN_RATED = 3;
const N_RECS = 20;
const progress = document.getElementById('ob-progress');
const button = document.getElementById('show-recs');
const recs = document.getElementById('recs');
const recsList = document.getElementById('recs-list');
const recsStatus = document.getElementById('recs-status');
const matchHelp = document.getElementById('match-help');
const tools = document.getElementById('profile-tools');
const ratedList = document.getElementById('rated-list');
const profileStatus = document.getElementById('profile-status');
const p = profile();
tools.hidden = false;
/* The ratings list keeps a title un-rated here in place (both buttons off) until reload. */
let listed = ratings().map(function (x) { return x[0]; });
const rows = new Map();
initRateButtons(function (id, value) {
  if (value !== undefined && value !== null && listed.indexOf(id) < 0) listed.push(id);
  update();
});

function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }
function ready(pairs) { return pairs.length >= MIN_RATED && pairs.some(function (x) { return isLike(x[1]); }); }
function rated(id) { const v = p.get(id); return v !== undefined && v !== null; }

function update() {
  const pairs = ratings();
  const onb = onboarding.filter(rated).length;
  const likes = pairs.filter(function (x) { return isLike(x[1]); }).length;
  const ok = ready(pairs);
  progress.textContent = onb + ' of ' + onboarding.length + ' rated here · ' + plural(pairs.length, 'rating') +
    ' in your profile (' + plural(likes, 'like') + ').' +
    (ok ? '' : ' Rate at least ' + MIN_RATED + ' titles, one of them a like, to get recommendations.');
  document.getElementById('profile-count').textContent = plural(pairs.length, 'rating') + ' stored in this browser.';
  renderRated();
  if (!ok) {
    recs.hidden = true;
    button.hidden = true;
  } else if (!recs.hidden) {
    recommend();
  } else {
    button.hidden = false;
  }
}

function renderRated() {
  listed.forEach(function (id) {
    if (rows.has(id)) return;
    const li = el('li', {class: 'card rated', 'data-id': id});
    const a = el('a', {class: 'card-title', href: titleHref(id)}, id);
    const meta = el('span', {class: 'meta'});
    li.appendChild(a);
    li.appendChild(meta);
    li.appendChild(rateBox(id, id));
    ratedList.appendChild(li);
    rows.set(id, li);
    /* The name from the loaded model (rated titles' vectors are loaded anyway); a title's
     * shard is fetched only when the model does not know it. */
    ratedModel(ratings()).then(function (model) {
      const name = modelTitle(model, id);
      if (name !== null) { named(li, a, name); return null; }
      return itemFacts(id).then(function (info) {
        if (!info.item) { meta.textContent = 'not in this catalog'; return; }
        named(li, a, info.item.t);
        meta.textContent = info.item.k + (info.item.y ? ' · ' + info.item.y : '');
      });
    }).catch(function () { meta.textContent = 'details unavailable'; });
  });
  syncAll();
}

function named(li, a, title) {
  a.textContent = title;
  li.querySelectorAll('button[data-rate]').forEach(function (b) {
    b.setAttribute('aria-label', (b.dataset.rate === 'like' ? 'Like ' : 'Dislike ') + title);
  });
}

function resetRated() {
  listed = ratings().map(function (x) { return x[0]; });
  rows.clear();
  ratedList.textContent = '';
}

function tagList(ids) {
  const ul = el('ul', {class: 'tags', 'aria-label': 'Tags'});
  ids.forEach(function (t) { ul.appendChild(el('li', {class: 'tag'}, tags[t])); });
  return ul;
}

let seq = 0;
function recommend() {
  const pairs = ratings();
  if (!ready(pairs)) { update(); return; }
  const my = ++seq;
  recs.hidden = false;
  button.hidden = true;
  recsStatus.textContent = 'Computing…';
  /* The first answer needs the model and the vectors of the rated titles only: names and
   * reasons come from the model, a pick's tags and neighbours when its details are opened. */
  ratedModel(pairs).then(function (model) {
    if (my !== seq) return null;
    if (!model) return neighbourPicks(pairs, my);
    const ranked = recommendFor(model, pairs, {exclude: pairs.map(function (x) { return x[0]; }), n: N_RECS});
    const declared = published && published.model === model.model ? published : null;
    /* a content model's picks share tags with the liked title that pulls them up; a ratings
     * model's need not */
    const byTags = !(declared && declared.ratings);
    recsList.textContent = '';
    /* Each pick is shown as soon as it and those above it are named (version 7 fetches the name
     * blocks of the picks, in rank order; other versions know every name): never as an id. */
    let shown = Promise.resolve();
    ranked.forEach(function (pick) {
      const got = namedPick(model, pick);
      shown = Promise.all([got, shown]).then(function (x) { if (my === seq) show(model, pairs, x[0], byTags); });
    });
    return shown.then(function () {
      if (my !== seq) return;
      syncAll();
      recsStatus.textContent = ranked.length ? 'Ranked by your taste vector, fitted in this browser from ' +
        publishedText(declared) + '. Like or dislike a title to refine the list.'
        : 'Like a few more titles to get recommendations.';
    });
  }).catch(function (e) { recsStatus.textContent = 'Could not compute recommendations: ' + e.message; });
}

/* One pick's card, at the end of the list. */
function show(model, pairs, r, byTags) {
  const pulled = pulledUp(model, pairs, r.id, 2);
  const li = card(r.id, modelTitle(model, r.id) || 'Untitled', 'taste score: see “Match” above',
    'match ' + Number(r.score).toFixed(3));
  const why = el('p', {class: 'why'}, pulledText(pulled.map(function (id) { return modelTitle(model, id) || 'a title'; })));
  li.insertBefore(why, li.querySelector('.rate'));
  li.insertBefore(details(r.id, byTags ? pulled[0] : null, why), why.nextSibling);
  recsList.appendChild(li);
  syncAll(r.id);
}

/* What the recommendations were fitted from, as the build declared the published model. */
function publishedText(declared) {
  if (!declared) return 'the published embeddings';
  return declared.ratings ? 'the published model ' + declared.label + ', trained on readers’ ratings'
    : 'the published embeddings of ' + declared.label;
}

/* A pick's card: its name, its score, its like / dislike box. */
function card(id, title, scoreHelp, scoreText) {
  const li = el('li', {class: 'card', 'data-id': id});
  li.appendChild(el('a', {class: 'card-title', href: titleHref(id)}, title));
  const meta = el('span', {class: 'meta'});
  meta.appendChild(el('span', {class: 'score', title: scoreHelp}, scoreText));
  li.appendChild(meta);
  li.appendChild(rateBox(id, title));
  return li;
}

/* Details of a pick, fetched from its neighbour shard only when opened: kind, year, tags and
 * (a tag-based model) the tags it shares with the liked title that pulls it up most. */
function details(id, pulledBy, why) {
  const box = el('details', {class: 'pick-details'});
  box.appendChild(el('summary', null, 'Details'));
  box.addEventListener('toggle', function () {
    if (!box.open || box.dataset.loaded) return;
    box.dataset.loaded = '1';
    itemFacts(id).then(function (info) {
      if (!info.item) return;
      box.appendChild(el('p', {class: 'meta'}, info.item.k + (info.item.y ? ' · ' + info.item.y : '')));
      box.appendChild(tagList(info.item.g));
      if (!pulledBy) return null;
      return itemFacts(pulledBy).then(function (liked) {
        if (!liked.item) return;
        why.textContent += sharesText(info.item.g, liked.item.g);
      });
    }).catch(function () { box.appendChild(el('p', {class: 'meta'}, 'details unavailable')); });
  });
  return box;
}

/* Without a model: titles ranked by their neighbour score over the rated titles' shards. */
function neighbourPicks(pairs, my) {
  const likedIds = pairs.filter(function (x) { return isLike(x[1]); }).map(function (x) { return x[0]; });
  const dislikedIds = pairs.filter(function (x) { return isDislike(x[1]); }).map(function (x) { return x[0]; });
  const done = new Set(pairs.map(function (x) { return x[0]; }));
  function infos(ids) {
    return Promise.all(ids.map(function (id) { return itemInfo(id).catch(function () { return {item: null, nb: {}}; }); }));
  }
  return Promise.all([infos(likedIds), infos(dislikedIds)]).then(function (res) {
    const likedTitle = new Map();
    res[0].forEach(function (x, k) { if (x.item) likedTitle.set(likedIds[k], x.item); });
    const score = new Map();
    [[res[0], 1], [res[1], -1]].forEach(function (pair) {
      pair[0].forEach(function (x) {
        Object.keys(x.nb || {}).forEach(function (m) {
          x.nb[m].forEach(function (row) { score.set(row[0], (score.get(row[0]) || 0) + pair[1] * row[1]); });
        });
      });
    });
    const ranked = Array.from(score.entries()).filter(function (e) { return !done.has(e[0]) && e[1] > 0; })
      .sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); }).slice(0, N_RECS);
    matchHelp.textContent = 'The published embeddings could not be loaded, so titles are ranked by their ' +
      'neighbour score: the sum of their similarities to the titles you liked, minus those to the titles you disliked.';
    return Promise.all(ranked.map(function (e) { return itemFacts(e[0]); })).then(function (infos2) {
      if (my !== seq) return;
      recsList.textContent = '';
      infos2.forEach(function (info, k) {
        const id = ranked[k][0];
        const li = card(id, info.item ? info.item.t : id, 'neighbour score', 'neighbour score ' + Number(ranked[k][1]).toFixed(3));
        if (info.item) {
          li.insertBefore(tagList(info.item.g), li.querySelector('.rate'));
          li.insertBefore(el('p', {class: 'why'}, neighbourReason(info.item, id, res[0], likedIds, likedTitle)), li.querySelector('.rate'));
        }
        recsList.appendChild(li);
      });
      syncAll();
      recsStatus.textContent = ranked.length ? 'Ranked by the neighbours of the titles you liked, under every model.' +
        ' Like or dislike a title to refine the list.' : 'Like a few more titles to get recommendations.';
    });
  });
}

/* The reason shown under a neighbour pick: the liked titles it neighbours, and the tags it
 * shares with the first of them. */
function neighbourReason(item, id, likedInfo, likedIds, likedTitle) {
  const names = [];
  likedInfo.forEach(function (x, k) {
    const hit = Object.keys(x.nb || {}).some(function (m) { return x.nb[m].some(function (row) { return row[0] === id; }); });
    if (hit && likedTitle.has(likedIds[k])) names.push(likedTitle.get(likedIds[k]));
  });
  const text = neighbourText(names.slice(0, 2).map(function (it) { return it.t; }));
  return names.length ? text + sharesText(item.g, names[0].g) : text;
}

button.addEventListener('click', recommend);

document.getElementById('export').addEventListener('click', function () {
  const blob = new Blob([p.exportJSON()], {type: 'application/json'});
  const a = el('a', {href: URL.createObjectURL(blob), download: 'mangarec-ratings.json'});
  document.body.appendChild(a);
  a.click();
  setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  profileStatus.textContent = 'Exported ' + ratings().length + ' ratings.';
});
document.getElementById('import').addEventListener('change', function (ev) {
  const file = ev.target.files && ev.target.files[0];
  if (!file) return;
  file.text().then(function (text) {
    p.importJSON(text);
    resetRated();
    profileStatus.textContent = 'Imported: ' + ratings().length + ' ratings now in your profile.';
    recs.hidden = !ready(ratings());
    update();
  }).catch(function (e) { profileStatus.textContent = 'Could not import this file: ' + e.message; });
  ev.target.value = '';
});
document.getElementById('clear').addEventListener('click', function () {
  p.clear();
  resetRated();
  recs.hidden = true;
  profileStatus.textContent = 'All ratings forgotten.';
  update();
});

if (ready(ratings())) recs.hidden = false;
update();
