/** When failed logins start to cost the client time, and when they are refused outright. */
export interface AuthThrottlePolicy {
  /** Failures (per address or per user) after which every AUTH reply is delayed. */
  slowAfter: number;
  /** Failures from one client address after which AUTH is refused with 421. */
  addressLimit: number;
  /** Failures for one user name, from anywhere, after which AUTH as that user is refused with 421. */
  userLimit: number;
  /** Delay added per failure beyond `slowAfter`. */
  delayStepMs: number;
}

export type AuthThrottleVerdict = { action: 'proceed'; delayMs: number } | { action: 'refuse' };

/** The delay grows with each failure up to this many steps, staying well inside client timeouts. */
export const MAX_AUTH_DELAY_STEPS = 10;

/**
 * What to do with an AUTH attempt given the failures recorded so far in the current window. The
 * delay applies before the password is checked, to successes and failures alike, so its length
 * tells a guesser nothing.
 */
export function authThrottleVerdict(
  failures: { address: number; user: number },
  policy: AuthThrottlePolicy,
): AuthThrottleVerdict {
  if (failures.address >= policy.addressLimit || failures.user >= policy.userLimit)
    return { action: 'refuse' };
  const excess = Math.max(failures.address, failures.user) - policy.slowAfter + 1;
  const steps = Math.min(Math.max(excess, 0), MAX_AUTH_DELAY_STEPS);
  return { action: 'proceed', delayMs: steps * policy.delayStepMs };
}
