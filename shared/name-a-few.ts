// Messages that list devices name a few and count the rest: at 10,000 devices a full list is a
// line of 60 KB that nobody reads and that overflows a pull request comment.

/** How many items a message names before it counts the rest. */
export const NAMED = 5;

/**
 * "a, b, c" for a short list; "a, b, c, d, e and 1,627 more" for a long one. The count replaces
 * at least two items, so a message never says "and 1 more" where naming it would be as short.
 */
export function nameAFew(items: readonly string[], named = NAMED): string {
  if (items.length <= named + 1) return items.join(', ');
  return `${items.slice(0, named).join(', ')} and ${(items.length - named).toLocaleString('en')} more`;
}
