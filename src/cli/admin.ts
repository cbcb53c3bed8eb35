// `jg admin reset-password`: straight on the database (DATABASE_PATH or DATABASE_URL, as the server reads them), for
// when nobody can log in — a lost generated admin password, a locked-out last admin. No server needed.
import { loadConfig } from '../config';
import { openDatabase } from '../db/client';
import { findUserByUsername, revokeUserSessions, updateUserRow } from '../users/queries';
import { SESSIONS_CHANNEL } from '../users/service';
import { generatePassword } from '../users/tokens';
import { CliError, UsageError } from './graphql-client';

export async function resetPassword(username: string, givenPassword: string | undefined): Promise<{ generated: string | undefined }> {
  if (givenPassword !== undefined && (givenPassword.length < 8 || givenPassword.length > 256)) throw new UsageError('the new password must be 8 to 256 characters');
  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    const user = await findUserByUsername(database, username);
    if (!user) throw new CliError(`no user "${username}" in ${config.databaseUrl ? 'the PostgreSQL database' : config.databasePath}`);
    const password = givenPassword ?? generatePassword();
    const passwordHash = await Bun.password.hash(password, { algorithm: 'argon2id' });
    await database.transaction(async (tx) => {
      // Enabled again too: a reset is how a disabled last admin gets back in.
      await updateUserRow(tx, user.id, { passwordHash, disabled: false });
      await revokeUserSessions(tx, user.id, new Date());
    });
    // Running instances on PostgreSQL drop their remembered sessions at once (SQLite: see docs/cli.md).
    if (database.dialect === 'postgres') await database.broadcast(SESSIONS_CHANNEL, crypto.randomUUID());
    return { generated: givenPassword === undefined ? password : undefined };
  } finally {
    await database.close();
  }
}
