// The words of a user ID (or of a search), as word searches match them: whole words, like SKS and Hockeypuck.
// Pure. migrations/20261121020000_user_id_words.ts holds a frozen copy for its backfill; a unit test keeps
// the two in agreement, and a change here needs a new migration recomputing user_ids.words.

/** Every run of characters that is not a Unicode letter, mark or number separates words. */
const SEPARATORS = /[^\p{L}\p{M}\p{N}]+/u;

/**
 * The distinct words of a text, in order of first appearance: NFC-normalised, lower-cased, split on everything
 * but letters, marks and numbers. "Pedro van Dijk <pedro10oi@uni.example.edu>" → pedro, van, dijk, pedro10oi,
 * uni, example, edu.
 */
export function userIdWords(text: string): string[] {
  const words = new Set<string>();
  for (const word of text.normalize('NFC').toLowerCase().split(SEPARATORS)) {
    if (word.length > 0) words.add(word);
  }
  return [...words];
}
