/**
 * A byte budget for HTTP request bodies in flight. The API parses its JSON on the V8 heap (a body
 * can be twice the largest message: base64, escaping), and the heap has a fixed limit, so bodies
 * are admitted only while their declared sizes fit; the others are told to come back (503). One
 * body is always admitted when none is in flight, so a budget below the largest body still works.
 */
export interface BodyBudget {
  /** Reserves `bytes`; returns the release function, or undefined when the budget is spent. */
  tryReserve(bytes: number): (() => void) | undefined;
  readonly inFlightBytes: number;
}

export function createBodyBudget(maxBytes: number): BodyBudget {
  let inFlight = 0;
  let bodies = 0;
  return {
    tryReserve(bytes) {
      if (bodies > 0 && inFlight + bytes > maxBytes) return undefined;
      inFlight += bytes;
      bodies++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        inFlight -= bytes;
        bodies--;
      };
    },
    get inFlightBytes() {
      return inFlight;
    },
  };
}
