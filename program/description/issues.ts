/** A problem found in the fleet description, located for people: file (relative to the fleet folder) and line. */
export interface FleetIssue {
  file: string;
  line?: number;
  message: string;
}

export function formatIssue(issue: FleetIssue): string {
  return `${issue.file}${issue.line ? `:${issue.line}` : ''}: ${issue.message}`;
}

/** Thrown when the fleet description has errors; carries all of them, found at once. */
export class FleetDescriptionError extends Error {
  constructor(readonly issues: FleetIssue[]) {
    super(
      `the fleet description has ${issues.length} error${issues.length === 1 ? '' : 's'}; nothing was sent to Mender:\n` +
        issues.map((i) => `  ${formatIssue(i)}`).join('\n'),
    );
    this.name = 'FleetDescriptionError';
  }
}

/** Levenshtein distance, for "did you mean" suggestions on misspelt keys. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

export function closest(word: string, candidates: readonly string[], maxDistance = 3): string | undefined {
  let best: string | undefined;
  let bestDistance = maxDistance + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
