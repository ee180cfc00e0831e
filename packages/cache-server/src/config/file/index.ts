/** The config file layer (`--config`, issue 14): read, validate against one schema, hand values to the option table. */
export { ConfigFileError } from './config-file-error.js';
export { checkRules, loadConfigFile, type ConfigFile } from './load-config-file.js';
export { formatPath, optionText } from './file-schema.js';
export { configView, formatResolvedConfig, showOption } from './show-config.js';
