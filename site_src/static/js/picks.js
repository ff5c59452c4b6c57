/* Why a title is picked for the visitor: the explanations the feed and For you share (the liked
 * titles that pull a pick up under the fitted taste, the tags it shares with a liked title). */
import {explain} from './taste.js';
import {data} from './site.js';
import {isLike, ratedModel} from './profile.js';

/* Said of a taste pick that no single liked title pulls up. */
export const WHOLE_TASTE = 'Close to your taste as a whole rather than to one title you liked.';
/* Said of a feed title that no liked title pulls up (the feed ranks every title, low ones too). */
export const NOT_PULLED = 'Not pulled up by any title you liked.';

/* The liked titles whose fold-in contributions (taste.js explain: the score is exactly their
 * sum) pull title `id` up most, best first: at most n ids. pairs: the visitor's [[id, value]]. */
export function pulledUp(model, pairs, id, n) {
  const value = new Map(pairs);
  return explain(model, pairs, id, pairs.length).filter(function (e) {
    return e.contribution > 0 && isLike(value.get(e.id));
  }).slice(0, n || 2).map(function (e) { return e.id; });
}

/* pulledUp once the model and the rated titles' vectors are loaded; [] without a model. */
export function pulledUpBy(pairs, id, n) {
  return ratedModel(pairs).then(function (model) {
    return model && pairs.length ? pulledUp(model, pairs, id, n) : [];
  }).catch(function () { return []; });
}

/* “A”, “B” and “C”. */
export function quoted(titles) {
  const q = titles.map(function (t) { return '“' + t + '”'; });
  return q.length > 1 ? q.slice(0, -1).join(', ') + ' and ' + q[q.length - 1] : q[0];
}

/* The reason under a taste pick: the names of the liked titles that pull it up. */
export function pulledText(names, fallback) {
  return names.length ? 'Pulled up by ' + quoted(names) + ', which you liked.' : (fallback || WHOLE_TASTE);
}

/* The reason under a neighbour pick: the liked titles it neighbours. */
export function neighbourText(names) {
  return names.length ? 'A neighbour of ' + quoted(names) + ', which you liked.' : WHOLE_TASTE;
}

/* The names of (at most four of) the tags numbered in g that other also has ('' for none). */
export function sharedTags(g, other) {
  const shared = g.filter(function (t) { return other.indexOf(t) >= 0; });
  return shared.slice(0, 4).map(function (t) { return data.tags[t]; }).join(', ');
}

/* The reason under a title ranked by the tags of the rated titles: the tags (sharedTags) it
 * shares with a liked title. */
export function sharedWithText(shared, title) {
  return shared ? 'Shares ' + shared + ' with “' + title + '”, which you liked.' : 'Shares no tag with the titles you liked.';
}

/* ' Shares <tags> with it.' after a reason that names a liked title ('' when none is shared). */
export function sharesText(g, other) {
  const s = sharedTags(g, other);
  return s ? ' Shares ' + s + ' with it.' : '';
}
