/* For you: Mangaki-style onboarding (rate a dozen popular, diverse titles), then
 * recommendations computed in this browser; the list of rated titles with their like /
 * dislike in place; export / import / clear the ratings. */
(function () {
  'use strict';
  const M = globalThis.Mangarec;
  const tags = M.data.tags || [];
  const onboarding = M.data.onboarding || [];
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
  const p = M.profile();
  if (!p) {
    progress.textContent = 'Personalisation is not available in this build (taste.js is missing).';
    return;
  }
  tools.hidden = false;
  /* The ratings list keeps a title un-rated here in place (both buttons off) until reload. */
  let listed = M.ratings().map(function (x) { return x[0]; });
  const rows = new Map();
  M.initRateButtons(function (id, value) {
    if (value !== undefined && value !== null && listed.indexOf(id) < 0) listed.push(id);
    update();
  });

  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }
  function ready(pairs) { return pairs.length >= MIN_RATED && pairs.some(function (x) { return M.isLike(x[1]); }); }
  function rated(id) { const v = p.get(id); return v !== undefined && v !== null; }

  function update() {
    const pairs = M.ratings();
    const onb = onboarding.filter(rated).length;
    const likes = pairs.filter(function (x) { return M.isLike(x[1]); }).length;
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
      const li = M.el('li', {class: 'card rated', 'data-id': id});
      const a = M.el('a', {class: 'card-title', href: M.titleHref(id)}, id);
      const meta = M.el('span', {class: 'meta'});
      li.appendChild(a);
      li.appendChild(meta);
      li.appendChild(M.rateBox(id, id));
      ratedList.appendChild(li);
      rows.set(id, li);
      M.itemInfo(id).then(function (info) {
        if (!info.item) { meta.textContent = 'not in this catalog'; return; }
        a.textContent = info.item.t;
        meta.textContent = info.item.k + (info.item.y ? ' · ' + info.item.y : '');
        li.querySelectorAll('button[data-rate]').forEach(function (b) {
          b.setAttribute('aria-label', (b.dataset.rate === 'like' ? 'Like ' : 'Dislike ') + info.item.t);
        });
      }).catch(function () { meta.textContent = 'details unavailable'; });
    });
    M.syncAll();
  }

  function resetRated() {
    listed = M.ratings().map(function (x) { return x[0]; });
    rows.clear();
    ratedList.textContent = '';
  }

  function tagList(ids) {
    const ul = M.el('ul', {class: 'tags', 'aria-label': 'Tags'});
    ids.forEach(function (t) { ul.appendChild(M.el('li', {class: 'tag'}, tags[t])); });
    return ul;
  }

  function quoted(titles) {
    const q = titles.map(function (t) { return '“' + t + '”'; });
    return q.length > 1 ? q.slice(0, -1).join(', ') + ' and ' + q[q.length - 1] : q[0];
  }

  let seq = 0;
  function recommend() {
    const pairs = M.ratings();
    if (!ready(pairs)) { update(); return; }
    const my = ++seq;
    recs.hidden = false;
    button.hidden = true;
    recsStatus.textContent = 'Computing…';
    const likedIds = pairs.filter(function (x) { return M.isLike(x[1]); }).map(function (x) { return x[0]; });
    const dislikedIds = pairs.filter(function (x) { return M.isDislike(x[1]); }).map(function (x) { return x[0]; });
    const done = new Set(pairs.map(function (x) { return x[0]; }));
    function infos(ids) {
      return Promise.all(ids.map(function (id) { return M.itemInfo(id).catch(function () { return {item: null, nb: {}}; }); }));
    }
    Promise.all([M.tasteScores(pairs), infos(likedIds), infos(dislikedIds), M.tasteModel()]).then(function (res) {
      const likedTitle = new Map();
      res[1].forEach(function (x, k) { if (x.item) likedTitle.set(likedIds[k], x.item); });
      let ranked;
      const taste = !!res[0];
      if (taste) {
        ranked = Array.from(res[0].entries()).filter(function (e) { return !done.has(e[0]); })
          .sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); }).slice(0, N_RECS);
      } else {
        const score = new Map();
        [[res[1], 1], [res[2], -1]].forEach(function (pair) {
          pair[0].forEach(function (x) {
            Object.keys(x.nb || {}).forEach(function (m) {
              x.nb[m].forEach(function (row) { score.set(row[0], (score.get(row[0]) || 0) + pair[1] * row[1]); });
            });
          });
        });
        ranked = Array.from(score.entries()).filter(function (e) { return !done.has(e[0]) && e[1] > 0; })
          .sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); }).slice(0, N_RECS);
        matchHelp.textContent = 'The published embeddings could not be loaded, so titles are ranked by their ' +
          'neighbour score: the sum of their similarities to the titles you liked, minus those to the titles you disliked.';
      }
      const modelName = res[3] && res[3].model;
      const byTags = modelName !== 'als';
      return Promise.all(ranked.map(function (e) {
        return Promise.all([M.itemInfo(e[0]), taste ? M.pulledUpBy(pairs, e[0], 2) : Promise.resolve(null)]);
      })).then(function (rows2) {
        if (my !== seq) return;
        recsList.textContent = '';
        rows2.forEach(function (r, k) {
          const info = r[0];
          const id = ranked[k][0];
          const title = info.item ? info.item.t : id;
          const li = M.el('li', {class: 'card', 'data-id': id});
          li.appendChild(M.el('a', {class: 'card-title', href: M.titleHref(id)}, title));
          const meta = M.el('span', {class: 'meta'}, info.item ? info.item.k + (info.item.y ? ' · ' + info.item.y : '') + ' · ' : '');
          meta.appendChild(M.el('span', {class: 'score', title: taste ? 'taste score: see “Match” above' : 'neighbour score'},
            (taste ? 'match ' : 'neighbour score ') + Number(ranked[k][1]).toFixed(3)));
          li.appendChild(meta);
          if (info.item) {
            li.appendChild(tagList(info.item.g));
            li.appendChild(M.el('p', {class: 'why'}, why(info.item, id, r[1], res[1], likedIds, likedTitle, byTags)));
          }
          li.appendChild(M.rateBox(id, title));
          recsList.appendChild(li);
        });
        M.syncAll();
        recsStatus.textContent = ranked.length ? 'Ranked by ' + (taste
          ? 'your taste vector, fitted in this browser from the published ' + (modelName === 'als' ? 'ratings model (ALS)' : 'embeddings') + '.'
          : 'the neighbours of the titles you liked, under every model.') + ' Like or dislike a title to refine the list.'
          : 'Like a few more titles to get recommendations.';
      });
    }).catch(function (e) { recsStatus.textContent = 'Could not compute recommendations: ' + e.message; });
  }

  /* The reason shown under a pick. A taste pick names the liked titles whose fold-in
   * contributions pull it up most (taste.js explain); a tag-based model adds the tags shared
   * with the first of them. A neighbour pick names the liked titles it neighbours. */
  function why(item, id, pulled, likedInfo, likedIds, likedTitle, byTags) {
    let names;
    if (pulled) {
      names = pulled.map(function (e) { return likedTitle.get(e.id); }).filter(Boolean);
    } else {
      names = [];
      likedInfo.forEach(function (x, k) {
        const hit = Object.keys(x.nb || {}).some(function (m) { return x.nb[m].some(function (row) { return row[0] === id; }); });
        if (hit && likedTitle.has(likedIds[k])) names.push(likedTitle.get(likedIds[k]));
      });
      names = names.slice(0, 2);
    }
    if (!names.length) return 'Close to your taste as a whole rather than to one title you liked.';
    let text = (pulled ? 'Pulled up by ' : 'A neighbour of ') + quoted(names.map(function (it) { return it.t; })) + ', which you liked.';
    if (byTags || !pulled) {
      const shared = item.g.filter(function (t) { return names[0].g.indexOf(t) >= 0; });
      if (shared.length) text += ' Shares ' + shared.slice(0, 4).map(function (t) { return tags[t]; }).join(', ') + ' with it.';
    }
    return text;
  }

  button.addEventListener('click', recommend);

  document.getElementById('export').addEventListener('click', function () {
    const blob = new Blob([p.exportJSON()], {type: 'application/json'});
    const a = M.el('a', {href: URL.createObjectURL(blob), download: 'mangarec-ratings.json'});
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    profileStatus.textContent = 'Exported ' + M.ratings().length + ' ratings.';
  });
  document.getElementById('import').addEventListener('change', function (ev) {
    const file = ev.target.files && ev.target.files[0];
    if (!file) return;
    file.text().then(function (text) {
      p.importJSON(text);
      resetRated();
      profileStatus.textContent = 'Imported: ' + M.ratings().length + ' ratings now in your profile.';
      recs.hidden = !ready(M.ratings());
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

  if (ready(M.ratings())) recs.hidden = false;
  update();
})();
