/**
 * A config file that cannot be used: one line per problem, each naming file, line and path
 * (`simple-cache.yaml:14 rules[2].ttl: expected a duration such as 5m`). Start-up and
 * `--check-config` exit 2 with it; a reload keeps the config it had and reports it.
 */
export class ConfigFileError extends Error {
  readonly code = 'CACHE_ERR_BAD_CONFIG';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigFileError';
  }
}
