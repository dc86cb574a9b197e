// The course's arithmetic, for the lessons' widgets. Pure; hand-checked in tests/js/learn.test.mjs.

/** The week-3 notes' normalisation: x/255 − 0.5. */
export const normalise = (x) => x / 255 - 0.5;

/** A conv layer's parameters: k kernels of f×f×c_in weights, each with a bias. */
export const convParams = (f, cin, k) => (f * f * cin + 1) * k;

/** A dense layer from an h×w×c picture to an h'×w'×c' map: every input to every output,
 *  and a bias per output. `weights` alone is the course's 8.1 × 10⁹. */
export function denseParams(h, w, c, h2, w2, c2) {
  const inputs = h * w * c, outputs = h2 * w2 * c2;
  return { weights: inputs * outputs, biases: outputs, total: inputs * outputs + outputs };
}

/** Multiplications of a normal conv and of its depthwise-separable split, for an
 *  n×n×c input, f×f kernels, stride 1 and "valid" padding, to k output channels. */
export function separableCost(n, c, f, k) {
  const out = n - f + 1;
  if (out < 1) throw new Error(`a ${f}×${f} kernel does not fit a ${n}×${n} input`);
  const normal = out * out * f * f * c * k;
  const depthwise = out * out * f * f * c; // one f×f filter per input channel
  const pointwise = out * out * c * k; // a 1×1 conv mixes the channels
  return { out, normal, depthwise, pointwise, separable: depthwise + pointwise,
           ratio: (depthwise + pointwise) / normal, formula: 1 / k + 1 / (f * f) };
}

/** Receptive field (in input pixels) after each layer of a stack of windows {k, s}:
 *  rf += (k − 1)·jump, jump *= s. The same rule as the playground's summary table. */
export function receptiveFields(layers) {
  let rf = 1, jump = 1;
  return layers.map(({ k, s = 1 }) => {
    rf += (k - 1) * jump;
    jump *= s;
    return { rf, jump };
  });
}

/** A count as the course writes big numbers: 8.1 × 10⁹; small ones with thousands commas. */
export function scientific(value) {
  if (value < 1e6) return value.toLocaleString("en-US");
  const exp = Math.floor(Math.log10(value));
  const mantissa = value / 10 ** exp;
  const sup = String(exp).split("").map((d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[Number(d)]).join("");
  return `${Number(mantissa.toFixed(2))} × 10${sup}`;
}
