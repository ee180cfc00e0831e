export { buildOriginApp, startOrigin, type BuildOriginOptions, type RunningOrigin } from './app.js';
export { BIG_FILE_NAME, BIG_FILE_SIZE, ensureBigFile, generateBigFileBytes, writeBigFile } from './big-file.js';
export {
  DEFAULTS,
  DEMO_ROOT,
  createConfig,
  formatMainServerHelp,
  readConfig,
  type ReadConfigResult,
} from './config.js';
export { STATS_PATH, type RequestStats } from './request-count.js';
