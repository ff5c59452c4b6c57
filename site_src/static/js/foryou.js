/* For you: Mangaki-style onboarding (rate a dozen popular, diverse titles), then
 * recommendations computed in this browser; export / import / clear the ratings. */
(function () {
  'use strict';
  const M = globalThis.Mangarec;
  const tags = M.data.tags || [];
  const onboarding = M.data.onboarding || [];
  const MIN_RATED = 3;
  const progress = document.getElementById('ob-progress');
  const button = document.getElementById('show-recs');
  const recs = document.getElementById('recs');
  const recsList = document.getElementById('recs-list');
  const recsStatus = document.getElementById('recs-status');
  const tools = document.getElementById('profile-tools');
  const profileStatus = document.getElementById('profile-status');
  const p = M.profile();
  if (!p) {
    progress.textContent = 'Personalisation is not available in this build (taste.js is missing).';
    return;
  }
  tools.hidden = false;
  M.initRateButtons(update);

  function update() {
    const pairs = M.ratings();
    const onb = onboarding.filter(function (id) { return p.get(id) !== undefined && p.get(id) !== null; }).length;
    const likes = pairs.filter(function (x) { return M.isLike(x[1]); }).length;
    progress.textContent = onb + ' of ' + onboarding.length + ' rated here · ' + plural(pairs.length, 'rating') +
      ' in your profile (' + plural(likes, 'like') + ').' +
      (pairs.length < MIN_RATED ? ' Rate at least ' + MIN_RATED + ' titles, one of them a like.' : '');
    document.getElementById('profile-count').textContent = plural(pairs.length, 'rating') + ' stored in this browser.';
    button.hidden = !(pairs.length >= MIN_RATED && likes > 0);
    if (!recs.hidden) recommend();
  }

  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

  function recommend() {
    const pairs = M.ratings();
    recs.hidden = false;
    recsStatus.textContent = 'Computing…';
    const likedIds = pairs.filter(function (x) { return M.isLike(x[1]); }).map(function (x) { return x[0]; });
    const dislikedIds = pairs.filter(function (x) { return M.isDislike(x[1]); }).map(function (x) { return x[0]; });
    const rated = new Set(pairs.map(function (x) { return x[0]; }));
    const likedInfo = Promise.all(likedIds.map(function (id) { return M.itemInfo(id).catch(function () { return {item: null, nb: {}}; }); }));
    const dislikedInfo = Promise.all(dislikedIds.map(function (id) { return M.itemInfo(id).catch(function () { return {item: null, nb: {}}; }); }));
    Promise.all([M.tasteScores(pairs), likedInfo, dislikedInfo]).then(function (res) {
      let ranked;
      let how;
      if (res[0]) {
        ranked = Array.from(res[0].entries()).filter(function (e) { return !rated.has(e[0]); })
          .sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); }).slice(0, 20);
        how = 'your taste vector, fitted in this browser from the published embeddings';
      } else {
        const score = new Map();
        [[res[1], 1], [res[2], -1]].forEach(function (pair) {
          pair[0].forEach(function (x) {
            Object.keys(x.nb || {}).forEach(function (m) {
              x.nb[m].forEach(function (row) { score.set(row[0], (score.get(row[0]) || 0) + pair[1] * row[1]); });
            });
          });
        });
        ranked = Array.from(score.entries()).filter(function (e) { return !rated.has(e[0]) && e[1] > 0; })
          .sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); }).slice(0, 20);
        how = 'the neighbours of the titles you liked, under every model';
      }
      const likedItems = res[1].map(function (x) { return x.item; }).filter(Boolean);
      return Promise.all(ranked.map(function (e) { return M.itemInfo(e[0]); })).then(function (infos) {
        recsList.textContent = '';
        infos.forEach(function (info, k) {
          const id = ranked[k][0];
          const li = M.el('li', {class: 'card', 'data-id': id});
          li.appendChild(M.el('a', {class: 'card-title', href: M.titleHref(id)}, info.item ? info.item.t : id));
          if (info.item) {
            li.appendChild(M.el('span', {class: 'meta'}, info.item.k + (info.item.y ? ' · ' + info.item.y : '') +
              ' · score ' + Number(ranked[k][1]).toFixed(3)));
            li.appendChild(M.el('p', {class: 'why'}, why(info.item, likedItems)));
          }
          recsList.appendChild(li);
        });
        recsStatus.textContent = ranked.length ? 'Ranked by ' + how + '.' : 'Like a few more titles to get recommendations.';
      });
    }).catch(function (e) { recsStatus.textContent = 'Could not compute recommendations: ' + e.message; });
  }

  function why(item, likedItems) {
    let best = null;
    likedItems.forEach(function (it) {
      const shared = item.g.filter(function (t) { return it.g.indexOf(t) >= 0; });
      if (!best || shared.length > best.shared.length) best = {title: it.t, shared: shared};
    });
    if (!best || !best.shared.length) return 'Close to your taste, though it shares no tag with your likes.';
    return 'Shares ' + best.shared.slice(0, 4).map(function (t) { return tags[t]; }).join(', ') + ' with “' + best.title + '”.';
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
      document.querySelectorAll('.rate[data-id]').forEach(M.syncRate);
      profileStatus.textContent = 'Imported: ' + M.ratings().length + ' ratings now in your profile.';
      update();
    }).catch(function (e) { profileStatus.textContent = 'Could not import this file: ' + e.message; });
    ev.target.value = '';
  });
  document.getElementById('clear').addEventListener('click', function () {
    p.clear();
    document.querySelectorAll('.rate[data-id]').forEach(M.syncRate);
    recs.hidden = true;
    profileStatus.textContent = 'All ratings forgotten.';
    update();
  });

  update();
  if (!button.hidden) recommend();
})();
