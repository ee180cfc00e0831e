import type { CacheServerConfig } from '@simple-cache/common';
import { DEFAULT_POLICY_OPTIONS, type PolicyOptions } from '../policy/index.js';

/** The policy's options from the server config (durations there are milliseconds, here seconds). */
export function policyOptionsFrom(config: Readonly<CacheServerConfig>): Readonly<PolicyOptions> {
  return Object.freeze({
    heuristics: config.heuristics,
    heuristicFraction: DEFAULT_POLICY_OPTIONS.heuristicFraction,
    heuristicMaxAge: Math.floor(config.heuristicMaxAge / 1000),
    grace: Math.floor(config.grace / 1000),
    targetedField: config.targetedField,
    stripTargetedField: config.stripTargetedField,
  });
}

/** The targeted field to remove from responses to clients; '' when it is forwarded (RFC 9213 §3). */
export function droppedTargetedField(policy: Readonly<PolicyOptions>): string {
  return policy.stripTargetedField ? policy.targetedField : '';
}
