/**
 * (Re)writes `public/big.bin`, or `<dir>/big.bin` when a directory is given:
 * `pnpm --filter main-server generate:big-file [dir]`. `start` does this by itself when the file
 * is missing; run it by hand after changing the generator.
 */
import { DEMO_ROOT } from '../src/config.js';
import { writeBigFile } from '../src/big-file.js';

const target = await writeBigFile(process.argv[2] ?? DEMO_ROOT);
console.log(`wrote ${target}`);
