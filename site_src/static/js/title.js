/* Title page: the like / dislike control (the page itself works without JavaScript). */
import {initRateButtons} from './profile.js';

if (initRateButtons()) {
  const note = document.querySelector('.rate-note');
  if (note) note.hidden = false;
}
