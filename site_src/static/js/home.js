/* Home page: the title search (the same combobox as explore); a pick opens the title page.
 * Without JavaScript the box stays hidden and the page's links lead everywhere. */
(function () {
  'use strict';
  const M = globalThis.Mangarec;
  const box = document.getElementById('home-search');
  if (!box || !globalThis.MangarecSearch) return;
  box.hidden = false;
  globalThis.MangarecSearch.combobox(document.getElementById('q'), document.getElementById('results'),
    document.getElementById('search-status'), function (r) { location.href = M.titleHref(r.id); });
})();
