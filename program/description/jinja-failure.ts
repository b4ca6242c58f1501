/** A failure inside a template, at a line of that template (1-based) when known. */
export class JinjaFailure extends Error {
  constructor(
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'JinjaFailure';
  }
}
