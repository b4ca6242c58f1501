// A secret is carried through templating as a marker (variables.ts), so that the keys it ends up
// in are known without ever comparing secret values. A failure's message shows the marker's place
// as [secret], never the value, whatever the message was built from.
export const SECRET_MARKER = /@@fleet-secret-(\d+)@@/g;
export const secretMarker = (index: number) => `@@fleet-secret-${index}@@`;
export const maskSecrets = (text: string) => text.replace(SECRET_MARKER, '[secret]');

/** A failure inside a template, at a line of that template (1-based) when known. */
export class JinjaFailure extends Error {
  readonly reason: string;
  constructor(
    readonly line: number | undefined,
    reason: string,
  ) {
    super(maskSecrets(reason));
    this.reason = maskSecrets(reason);
    this.name = 'JinjaFailure';
  }
}
