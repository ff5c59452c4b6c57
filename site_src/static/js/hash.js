/* 32-bit FNV-1a over UTF-8 bytes, the same as mangarec.site.prepare.fnv1a: which shard holds a
 * title (neighbour shards for site.js, embeddings shards for taste.js). */
export function fnv1a(text) {
  const bytes = new TextEncoder().encode(text);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
