/* Title page: the like / dislike control (the page itself works without JavaScript). */
(function () {
  'use strict';
  const M = globalThis.Mangarec;
  if (M.initRateButtons()) {
    const note = document.querySelector('.rate-note');
    if (note) note.hidden = false;
  }
})();
