import type { PolicyOptions } from '../policy/index.js';

/** The targeted field to remove from responses to clients; '' when it is forwarded (RFC 9213 §3). */
export function droppedTargetedField(policy: Readonly<PolicyOptions>): string {
  return policy.stripTargetedField ? policy.targetedField : '';
}
