import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BIG_FILE_NAME, BIG_FILE_SIZE, ensureBigFile, generateBigFileBytes } from '../src/index.js';
import { createTempRoot } from './helpers.js';

let temp: Awaited<ReturnType<typeof createTempRoot>>;

beforeEach(async () => {
  temp = await createTempRoot({});
});

afterEach(async () => {
  await temp.remove();
});

test('the generator is deterministic, 4 MiB, and not trivially compressible', () => {
  const bytes = generateBigFileBytes();
  expect(bytes.length).toBe(BIG_FILE_SIZE);
  expect(generateBigFileBytes().equals(bytes)).toBe(true);
  expect(generateBigFileBytes(64).equals(bytes.subarray(0, 64))).toBe(true);
  expect(new Set(bytes.subarray(0, 4096)).size).toBeGreaterThan(200);
});

test('ensureBigFile writes the file once, then leaves it alone', async () => {
  const file = path.join(temp.root, BIG_FILE_NAME);
  expect(await ensureBigFile(temp.root)).toBe(true);
  expect((await readFile(file)).equals(generateBigFileBytes())).toBe(true);
  const { mtimeMs } = await stat(file);
  expect(await ensureBigFile(temp.root)).toBe(false);
  expect((await stat(file)).mtimeMs).toBe(mtimeMs);
});

test('ensureBigFile replaces a file of the wrong size', async () => {
  await writeFile(path.join(temp.root, BIG_FILE_NAME), 'truncated');
  expect(await ensureBigFile(temp.root)).toBe(true);
  expect((await stat(path.join(temp.root, BIG_FILE_NAME))).size).toBe(BIG_FILE_SIZE);
});

test('concurrent callers leave one complete file', async () => {
  await Promise.all([ensureBigFile(temp.root), ensureBigFile(temp.root), ensureBigFile(temp.root)]);
  expect((await readFile(path.join(temp.root, BIG_FILE_NAME))).equals(generateBigFileBytes())).toBe(true);
});
