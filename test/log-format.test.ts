// LOG_FORMAT=pretty: a person at a terminal reads lines (pino-pretty), not JSON; LOG_FILE stays JSON; a bad value
// is refused at start-up.
import { expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config';
import { spawnProcess } from './helpers/process';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

test('LOG_FORMAT=pretty writes readable lines to stdout, JSON to LOG_FILE', async () => {
  const dir = tempDir('jobgraph-pretty-');
  const logFile = join(dir, 'jobgraph.log');
  const server = spawnProcess({ LOG_FORMAT: 'pretty', DATABASE_PATH: join(dir, 'db'), ADMIN_PASSWORD: 'a-long-enough-password', LOG_FILE: logFile, WORKERS: '1' });
  try {
    const deadline = Date.now() + 15_000;
    while (!server.stdout().includes('jobgraph listening') && Date.now() < deadline && server.proc.exitCode === null) await Bun.sleep(25);
    const line = server.stdout().split('\n').find((text) => text.includes('jobgraph listening'))!;
    expect(line).toBeDefined();
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*: jobgraph listening/);
    expect(() => JSON.parse(line)).toThrow();
  } finally {
    await server.stop();
  }
  const fileLine = readFileSync(logFile, 'utf8').split('\n').find((text) => text.includes('jobgraph listening'))!;
  expect(JSON.parse(fileLine)).toMatchObject({ level: 'info', msg: 'jobgraph listening' });
});

test('LOG_FORMAT is json or pretty', () => {
  expect(loadConfig({ ADMIN_PASSWORD: 'a-long-enough-password' }).logFormat).toBe('json');
  expect(() => loadConfig({ ADMIN_PASSWORD: 'a-long-enough-password', LOG_FORMAT: 'xml' })).toThrow(ConfigError);
});
