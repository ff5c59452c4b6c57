/* Title page: the like / dislike control, added here (the page itself works without
 * JavaScript; without it there is nothing to rate with). */
import {data, el, url} from './site.js';
import {initRateButtons, rateBox} from './profile.js';

const h1 = document.querySelector('article.title-page h1');
if (h1) {
  const article = h1.parentNode;
  const before = article.querySelector(':scope > section');
  const note = el('p', {class: 'rate-note'}, 'Your likes stay in this browser and re-rank the ');
  note.appendChild(el('a', {href: url('feed/')}, 'feed'));
  note.appendChild(document.createTextNode('.'));
  article.insertBefore(rateBox(String(data.id), h1.textContent), before);
  article.insertBefore(note, before);
  initRateButtons();
}
