// Messages that list devices name a few and count the rest.
import { nameAFew } from '../../shared/name-a-few';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `d${i + 1}`);

describe('nameAFew', () => {
  it.each([
    [0, ''],
    [1, 'd1'],
    [5, 'd1, d2, d3, d4, d5'],
    // Counting one device would not be shorter than naming it.
    [6, 'd1, d2, d3, d4, d5, d6'],
    [7, 'd1, d2, d3, d4, d5 and 2 more'],
    [1632, 'd1, d2, d3, d4, d5 and 1,627 more'],
  ])('%i devices: "%s"', (n, text) => {
    expect(nameAFew(ids(n))).toBe(text);
  });

  it('names as many as asked', () => {
    expect(nameAFew(ids(10), 2)).toBe('d1, d2 and 8 more');
  });
});
