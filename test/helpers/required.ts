// Tests that need a tool this machine may lack (redis-server, Chromium) skip, saying so, on a developer's machine.
// Under .ci/run every such tool is installed and JOBGRAPH_REQUIRE_ALL is set: a missing one fails instead of skipping.

/** `found`, or undefined where it may be missing; under JOBGRAPH_REQUIRE_ALL a missing tool is an error. */
export function optionalTool<T>(found: T | null | undefined, what: string): T | undefined {
  if (found) return found;
  if (process.env.JOBGRAPH_REQUIRE_ALL) throw new Error(`${what} is not installed, and JOBGRAPH_REQUIRE_ALL says every test must run`);
  return undefined;
}
