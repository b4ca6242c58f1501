// Fault injection: make the next `count` requests matching a method and path pattern fail
// (status with optional Retry-After), hang (delay) or drop the connection (reset).
import { z } from 'zod';

export const faultSchema = z
  .object({
    method: z.string().min(1).optional(),
    path: z.string().min(1),
    count: z.number().int().positive().default(1),
    status: z.number().int().min(100).max(599).optional(),
    retry_after: z.number().int().nonnegative().optional(),
    reset: z.boolean().optional(),
    delay_ms: z.number().int().nonnegative().optional(),
  })
  .strict()
  .refine((f) => f.status !== undefined || f.reset === true || f.delay_ms !== undefined, {
    message: 'a fault needs status, reset or delay_ms',
  })
  .refine(
    (f) => {
      try {
        new RegExp(f.path);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'path must be a valid regular expression', path: ['path'] },
  );

export type FaultSpec = z.infer<typeof faultSchema>;

export interface Fault extends FaultSpec {
  id: number;
  remaining: number;
}

export class Faults {
  private faults: { fault: Fault; re: RegExp }[] = [];
  private nextId = 1;

  add(spec: FaultSpec): Fault {
    const fault: Fault = { ...spec, id: this.nextId++, remaining: spec.count };
    this.faults.push({ fault, re: new RegExp(spec.path) });
    return fault;
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f.fault }));
  }

  clear(): void {
    this.faults = [];
  }

  /** The first fault matching this request, consuming one of its uses. */
  take(method: string, path: string): Fault | undefined {
    const hit = this.faults.find(
      ({ fault, re }) => (!fault.method || fault.method.toUpperCase() === method.toUpperCase()) && re.test(path),
    );
    if (!hit) return undefined;
    hit.fault.remaining--;
    if (hit.fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== hit);
    return { ...hit.fault };
  }
}
