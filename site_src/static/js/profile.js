/* The visitor's side of every page that personalises (title, feed, For you): the profile
 * taste.js keeps in this browser, the site's one like rule at the threshold the build published
 * (data.like_threshold), the published model and the like / dislike controls. */
import * as T from './taste.js';
import {data, url, el} from './site.js';

/* The visitor's profile (taste.js Profile over localStorage, or memory where storage is off). */
let profileObj;
export function profile() {
  if (!profileObj) profileObj = new T.Profile();
  return profileObj;
}

/* [[id, value]] pairs of the stored ratings, sorted by id. */
export function ratings() {
  return profile().entries();
}

/* taste.js's one like rule, at the threshold the build published. */
export function isLike(v) { return T.isLike(v, data.like_threshold); }
export function isDislike(v) { return T.isDislike(v, data.like_threshold); }

/* The published embeddings model (taste.js), or null when unavailable: the file the page
 * names (For you: the compact version 4, the recommendable titles up front), else the full one. */
let modelPromise;
export function tasteModel() {
  if (!modelPromise) {
    modelPromise = Promise.resolve().then(function () {
      const full = 'data/embeddings.json';
      if (!data.embeddings || data.embeddings === full) return T.loadEmbeddings(url(full));
      /* the per-title form: the rated titles' files are fetched beside the document */
      const early = data.taste_files ? {path: data.taste_files, ids: ratings().map(function (x) { return x[0]; })} : null;
      return T.loadEmbeddings(url(data.embeddings), early).catch(function () { return T.loadEmbeddings(url(full)); });
    }).catch(function () { return null; });
  }
  return modelPromise;
}

/* The model with the vectors of every rated title loaded (version 4 fetches the shards of
 * rated titles that are not up front), or null. */
export function ratedModel(pairs) {
  return tasteModel().then(function (model) {
    return model ? T.loadRated(model, pairs) : model;
  }).catch(function () { return null; });
}

/* A title's name as the loaded model knows it (null when it does not; versions 5 and 6: the rated
 * titles' and their candidates'; version 7: the rated titles' and those of the name blocks read). */
export function modelTitle(model, id) {
  if (model && model.names && model.names.has(id)) return model.names.get(id);
  const row = model && model.titles ? model.index.get(id) : undefined;
  return row === undefined ? null : model.titles[row];
}

/* Ranks every title by the visitor's taste: Map id -> score, or null without a model. */
export function tasteScores(pairs) {
  return ratedModel(pairs).then(function (model) {
    if (!model || !pairs.length) return null;
    const exclude = pairs.map(function (x) { return x[0]; });
    const ranked = T.recommend(model, pairs, {exclude: exclude});
    const scores = new Map();
    ranked.forEach(function (r) { scores.set(String(r.id), r.score); });
    return scores;
  }).catch(function () { return null; });
}

/* A like / dislike control like the template's rate_buttons macro (for cards built here). */
export function rateBox(id, title) {
  const box = el('div', {class: 'rate', 'data-id': id});
  box.appendChild(el('button', {type: 'button', class: 'btn like', 'data-rate': 'like', 'aria-pressed': 'false',
    'aria-label': 'Like ' + title}, 'Like'));
  box.appendChild(el('button', {type: 'button', class: 'btn dislike', 'data-rate': 'dislike', 'aria-pressed': 'false',
    'aria-label': 'Dislike ' + title}, 'Dislike'));
  return box;
}

/* Like / dislike controls (title pages, feed, For you). One delegated listener per document,
 * so cards added later work too; every box of the same title is kept in sync. */
export function syncRate(box) {
  const v = profile().get(box.dataset.id);
  box.hidden = false;
  box.querySelectorAll('button[data-rate]').forEach(function (b) {
    b.setAttribute('aria-pressed', String(v === b.dataset.rate));
  });
}

export function syncAll(id) {
  document.querySelectorAll('.rate[data-id]').forEach(function (box) {
    if (id === undefined || box.dataset.id === id) syncRate(box);
  });
}

const listeners = [];
let delegated = false;
/* Shows the controls and calls onChange(id, value) after each click. */
export function initRateButtons(onChange) {
  const p = profile();
  if (onChange) listeners.push(onChange);
  syncAll();
  if (!delegated) {
    delegated = true;
    document.addEventListener('click', function (ev) {
      const b = ev.target.closest && ev.target.closest('.rate[data-id] button[data-rate]');
      if (!b) return;
      const id = b.closest('.rate').dataset.id;
      if (p.get(id) === b.dataset.rate) p.remove(id); else p.set(id, b.dataset.rate);
      syncAll(id);
      listeners.forEach(function (f) { f(id, p.get(id)); });
    });
  }
  return true;
}
