/* Home page: the title search (the same combobox as explore); a pick opens the title page.
 * Without JavaScript the box stays hidden and the page's links lead everywhere. */
import {titleHref} from './site.js';
import {combobox} from './search.js';

const box = document.getElementById('home-search');
if (box) {
  box.hidden = false;
  combobox(document.getElementById('q'), document.getElementById('results'),
    document.getElementById('search-status'), function (r) { location.href = titleHref(r.id); });
}
