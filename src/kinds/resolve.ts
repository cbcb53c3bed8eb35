// A kind file may live outside the project (JOB_KINDS_DIR): "jobgraph" and "zod" are this server's own modules
// wherever it is, so a kind needs no install of its own and its schemas are the zod the server reads them with.
import { plugin } from 'bun';
import * as zod from 'zod';
import * as jobgraph from './public';

let installed = false;

/** Installs the modules in this thread (the server, and each pool Worker: plugins do not cross threads). */
export function provideKindImports(): void {
  if (installed) return;
  installed = true;
  plugin({
    name: 'jobgraph kind imports',
    setup(build) {
      build.module('jobgraph', () => ({ exports: { ...jobgraph }, loader: 'object' }));
      build.module('zod', () => ({ exports: { ...zod }, loader: 'object' }));
    },
  });
}
