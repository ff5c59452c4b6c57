/* Title page: the like / dislike control, added here (the page itself works without
 * JavaScript, and without a profile store there is nothing to rate with). */
(function () {
  'use strict';
  const M = globalThis.Mangarec;
  const h1 = document.querySelector('article.title-page h1');
  if (!h1 || !M.profile()) return;
  const article = h1.parentNode;
  const before = article.querySelector(':scope > section');
  const box = M.rateBox(String(M.data.id), h1.textContent);
  const note = M.el('p', {class: 'rate-note'}, 'Your likes stay in this browser and re-rank the ');
  note.appendChild(M.el('a', {href: M.url('feed/')}, 'feed'));
  note.appendChild(document.createTextNode('.'));
  article.insertBefore(box, before);
  article.insertBefore(note, before);
  M.initRateButtons();
})();
