/* Title page: the like / dislike control, added here (the page itself works without
 * JavaScript; without it there is nothing to rate with), and this title's id on the link to
 * explore (a page that needs JavaScript anyway: the id, a 36-character UUID on a live catalog,
 * is not written into every title page's markup). */
import {data, el, url} from './site.js';
import {initRateButtons, rateBox} from './profile.js';

const h1 = document.querySelector('article.title-page h1');
if (h1) {
  const article = h1.parentNode;
  const explore = article.querySelector('a[href$="explore/"]');
  if (explore) explore.setAttribute('href', explore.getAttribute('href') + '#' + encodeURIComponent(String(data.id)));
  const before = article.querySelector(':scope > section');
  const note = el('p', {class: 'rate-note'}, 'Your likes stay in this browser and re-rank the ');
  note.appendChild(el('a', {href: url('feed/')}, 'feed'));
  note.appendChild(document.createTextNode('.'));
  article.insertBefore(rateBox(String(data.id), h1.textContent), before);
  article.insertBefore(note, before);
  initRateButtons();
}
