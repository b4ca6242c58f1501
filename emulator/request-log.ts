// The admin API's record of Mender API requests, so tests can assert what a client sent.

export interface RequestLogEntry {
  method: string;
  path: string;
  query: string;
  status: number;
  time: string;
}

export class RequestLog {
  private entries: RequestLogEntry[] = [];

  constructor(private readonly limit = 100000) {}

  add(entry: RequestLogEntry): void {
    this.entries.push(entry);
    // Keep memory bounded on long demo runs; the newest entries matter.
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
  }

  list(): RequestLogEntry[] {
    return [...this.entries];
  }

  clear(): void {
    this.entries = [];
  }
}
