// An engine scenario acts on Mender and on a stack, each step on what the step before left, so
// its steps run in order inside one test: `jest --randomize` shuffles tests, and a step cannot
// be a test of its own. The step's name leads a failure, so the report says which step broke.
export async function step<T>(name: string, body: () => Promise<T> | T): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof Error) {
      err.message = `step "${name}": ${err.message}`;
    }
    throw err;
  }
}
