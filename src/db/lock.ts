import { dlopen, FFIType, type Pointer, read } from 'bun:ffi';
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';

/** The exit code of a jobgraph that finds its database held by another process. */
export const EXIT_DATABASE_IN_USE = 3;

export class DatabaseInUseError extends Error {
  constructor(
    readonly databasePath: string,
    readonly holderPid: number | null,
  ) {
    super(
      `database ${databasePath} is in use by another jobgraph process (${holderPid ? `pid ${holderPid}` : 'pid unknown'}); ` +
        'only one process may open it: stop that one, or set DATABASE_PATH to another file',
    );
  }
}

export interface DatabaseLock {
  release(): void;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = process.platform === 'darwin' ? 35 : 11;

/** flock(2) and errno from the C library (Bun has no binding of its own), loaded on first use. */
let libc: { flock(fd: number, operation: number): number; errno(): number } | undefined;
function loadLibc(): NonNullable<typeof libc> {
  const errnoSymbol = process.platform === 'darwin' ? '__error' : '__errno_location';
  const symbols = { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 }, [errnoSymbol]: { args: [], returns: FFIType.ptr } };
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  // macOS; glibc; musl (Alpine).
  const names = process.platform === 'darwin' ? ['libc.dylib'] : ['libc.so.6', `libc.musl-${arch}.so.1`];
  let failure: unknown;
  for (const name of names) {
    try {
      const library = dlopen(name, symbols).symbols as unknown as Record<string, (...args: number[]) => number | Pointer | null>;
      return { flock: (fd, operation) => library.flock!(fd, operation) as number, errno: () => read.i32(library[errnoSymbol]!() as Pointer) };
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

/**
 * Takes an exclusive lock on `<database>.lock`, or throws {@link DatabaseInUseError}: jobgraph's job claims and its
 * in-memory sessions assume one writer. It is an OS lock (flock), so the kernel drops it when the process ends, by
 * kill -9 too: a crashed jobgraph never blocks the next start. The file itself stays, holding the last holder's pid
 * (for the message). Not taken on Windows, which has no flock.
 */
export function lockDatabase(databasePath: string): DatabaseLock {
  if (process.platform === 'win32') return { release() {} };
  const lockPath = `${databasePath}.lock`;
  // Bun opens files close-on-exec, so no child process (the quote server) inherits the lock.
  const fd = openSync(lockPath, 'a+');
  libc ??= loadLibc();
  if (libc.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = libc.errno();
    closeSync(fd);
    if (errno !== EWOULDBLOCK) throw new Error(`could not lock ${lockPath} (errno ${errno})`);
    const holderPid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    throw new DatabaseInUseError(databasePath, Number.isNaN(holderPid) ? null : holderPid);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`);
  return { release: () => closeSync(fd) };
}
