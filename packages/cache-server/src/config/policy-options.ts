import type { CacheServerConfig } from '@simple-cache/common';
import { HEURISTIC_FRACTION, type PolicyOptions } from '../policy/types.js';
import { DEFAULTS } from './defaults.js';

/**
 * The policy's options from the server config: the one place where the config's milliseconds
 * become the policy's seconds (RFC 9111 counts ages and lifetimes in delta-seconds).
 */
export function policyOptionsFrom(config: Readonly<CacheServerConfig>): Readonly<PolicyOptions> {
  return Object.freeze({
    heuristics: config.heuristics,
    heuristicFraction: HEURISTIC_FRACTION,
    heuristicMaxAge: Math.floor(config.heuristicMaxAge / 1000),
    grace: Math.floor(config.grace / 1000),
    disconnectedGrace: Math.floor(config.disconnectedGrace / 1000),
    targetedField: config.targetedField,
    cacheName: config.name,
    stripTargetedField: config.stripTargetedField,
  });
}

/** The policy's options with every default (tests and embedders that build no config). */
export const DEFAULT_POLICY_OPTIONS: Readonly<PolicyOptions> = policyOptionsFrom(DEFAULTS);
