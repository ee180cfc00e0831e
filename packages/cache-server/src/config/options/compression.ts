import { parseSize } from '@simple-cache/common';
import { DEFAULTS } from '../defaults.js';
import { parseMediaTypes, parseSwitch, showSize, type ConfigOption } from '../values.js';

/** Compressed copies (br, gzip) stored beside the identity body. */
export const COMPRESSION_OPTIONS: readonly ConfigOption[] = [
  {
    flag: 'compress',
    field: 'compress',
    env: 'CACHE_COMPRESS',
    description:
      'store br and gzip copies of compressible responses, made once as they are stored, for clients that accept them',
    default: DEFAULTS.compress,
    expected: 'on or off',
    placeholder: 'on|off',
    showDefault: (v) => (v ? 'on' : 'off'),
    parse: parseSwitch,
  },
  {
    flag: 'compress-types',
    field: 'compressTypes',
    env: 'CACHE_COMPRESS_TYPES',
    description: 'media types compressed (comma separated; type/*, */*+suffix allowed)',
    default: DEFAULTS.compressTypes,
    expected: 'media types such as text/*,application/json',
    placeholder: 'types',
    showDefault: (v) => (v as string[]).join(','),
    parse: parseMediaTypes,
  },
  {
    flag: 'compress-min-size',
    field: 'compressMinSize',
    env: 'CACHE_COMPRESS_MIN_SIZE',
    description: 'smallest body compressed',
    default: DEFAULTS.compressMinSize,
    expected: 'a size such as 1KiB or plain bytes',
    placeholder: 'size',
    showDefault: (v) => showSize(v as number),
    parse: parseSize,
  },
];
