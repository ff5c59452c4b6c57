/* mangarec: where a title's page lives, title/<slug>/ (mangarec/site/slug.py, the same function).
 * A canonical UUID (lower-case 8-4-4-4-12 hex, a live MangaDex id) is written as its 16 bytes in
 * URL-safe base64 without padding (22 characters instead of 36); any other id is its own slug. */
const UUID_FORM = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function slug(id) {
  if (!UUID_FORM.test(id)) return id;
  const hex = id.replace(/-/g, '');
  let bytes = '';
  for (let i = 0; i < 32; i += 2) bytes += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return btoa(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/* The UUID whose slug is `s` (22 URL-safe base64 characters; slug.uuid_of in Python). */
export function uuidOf(s) {
  const bytes = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==');
  let hex = '';
  for (let i = 0; i < bytes.length; i++) hex += bytes.charCodeAt(i).toString(16).padStart(2, '0');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}
