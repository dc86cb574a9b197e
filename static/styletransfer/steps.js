// The coarse-to-fine pyramid of a style-transfer job, as styletransfer/config.py's
// StyleConfig.level_sizes and total_steps compute it (tests/fixtures/style_steps.json
// holds cases both are checked against). Pure: the Node tests import it.

/** Longest side at each pyramid level, smallest first; `minLevelSide` comes from the server. */
export function levelSizes({ size, levels }, minLevelSide) {
  const sizes = [];
  for (let k = levels - 1; k >= 0; k--) sizes.push(Math.floor(size / 2 ** k));
  return [...sizes.filter((s) => s >= minLevelSide).slice(0, -1), size];
}

/** Optimiser steps in all: `steps` at full size, `coarse_steps` at each smaller level. */
export function totalSteps(config, minLevelSide) {
  return config.steps + config.coarse_steps * (levelSizes(config, minLevelSide).length - 1);
}
