// The pool's default worker entry point: the kernels of src/compute/.
import { kernels } from '../compute/kernels';
import { serveKernels } from './serve';

serveKernels(kernels);
