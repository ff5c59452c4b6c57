/* Title page: the like / dislike control, added here (the page itself works without
 * JavaScript; without it there is nothing to rate with), and this title's id on the link to
 * explore (a page that needs JavaScript anyway: the id, a 36-character UUID on a live catalog,
 * is not written into every title page's markup). */
import {data, el, url} from './site.js';
import {initRateButtons, rateBox} from './profile.js';
import {uuidOf} from './slug.js';

/* This title's id: the page's data, or (a UUID, whose page carries only its 22-character slug)
 * the UUID of the slug its canonical URL ends with. */
const id = data.id !== undefined ? String(data.id)
  : uuidOf(document.querySelector('link[rel="canonical"]').getAttribute('href').split('/').slice(-2)[0]);

const h1 = document.querySelector('article.title-page h1');
if (h1) {
  const article = h1.parentNode;
  const explore = article.querySelector('a[href$="explore/"]');
  if (explore) explore.setAttribute('href', explore.getAttribute('href') + '#' + encodeURIComponent(id));
  const before = article.querySelector(':scope > section');
  const note = el('p', {class: 'rate-note'}, 'Your likes stay in this browser and re-rank the ');
  note.appendChild(el('a', {href: url('feed/')}, 'feed'));
  note.appendChild(document.createTextNode('.'));
  article.insertBefore(rateBox(id, h1.textContent), before);
  article.insertBefore(note, before);
  initRateButtons();
}
