import { DEFAULTS } from '../defaults.js';
import { parseFilePath, parseServername, parseSwitch, showFile, type ConfigOption } from '../values.js';

/** TLS towards an https origin: trust, SNI name, client certificate. */
export const ORIGIN_TLS_OPTIONS: readonly ConfigOption[] = [
  {
    flag: 'origin-ca',
    field: 'originCa',
    env: 'CACHE_ORIGIN_CA',
    description: "CA certificates (PEM) an https origin's certificate must chain to, instead of the system's",
    default: DEFAULTS.originCa,
    expected: 'a PEM file',
    placeholder: 'file',
    showDefault: showFile,
    parse: parseFilePath,
  },
  {
    flag: 'origin-servername',
    field: 'originServername',
    env: 'CACHE_ORIGIN_SERVERNAME',
    description: "name sent in SNI and checked against an https origin's certificate (default: the origin URL's host)",
    default: DEFAULTS.originServername,
    expected: 'a host name',
    placeholder: 'name',
    showDefault: (v) => ((v as string) === '' ? "(the origin's host)" : (v as string)),
    parse: parseServername,
  },
  {
    flag: 'origin-cert',
    field: 'originCert',
    env: 'CACHE_ORIGIN_CERT',
    description: 'client certificate (PEM) presented to an https origin that asks for one',
    default: DEFAULTS.originCert,
    expected: 'a PEM file',
    placeholder: 'file',
    showDefault: showFile,
    parse: parseFilePath,
  },
  {
    flag: 'origin-key',
    field: 'originKey',
    env: 'CACHE_ORIGIN_KEY',
    description: "the client certificate's private key (PEM)",
    default: DEFAULTS.originKey,
    expected: 'a PEM file',
    placeholder: 'file',
    showDefault: showFile,
    parse: parseFilePath,
  },
  {
    flag: 'origin-insecure',
    field: 'originInsecure',
    env: 'CACHE_ORIGIN_INSECURE',
    description:
      "accept any certificate from an https origin (tests only: anyone between can read and change what's cached)",
    default: DEFAULTS.originInsecure,
    expected: 'on or off',
    placeholder: 'on|off',
    showDefault: (v) => (v ? 'on' : 'off'),
    parse: parseSwitch,
  },
];
