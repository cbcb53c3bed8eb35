// The pool's worker entry point when kind files are loaded: the kernels of src/compute/, and the kind files' `run`.
import { kernels } from '../compute/kernels';
import { serveKernels } from '../pool/serve';
import { provideKindImports } from './resolve';
import { RUN_KIND_FILE, runKindFile } from './run-file';

provideKindImports();
serveKernels({ ...kernels, [RUN_KIND_FILE]: runKindFile });
