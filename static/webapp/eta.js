// How long a running job has left, from the rate its progress has moved at since its
// worker took it. Pure: the Node tests import it. Mirrors webapp.dashboard.eta_seconds.

/** Seconds left for a job at `progress` (0..1) after `elapsedS` seconds of running;
 *  null until it has moved enough to measure (1% and 2 s), and once it is done. */
export function etaSeconds(progress, elapsedS) {
  if (!(progress >= 0.01 && progress < 1 && elapsedS >= 2)) return null;
  return (elapsedS * (1 - progress)) / progress;
}
