// preprocess.js — a drawing to an MNIST-style 28×28 image, the way the
// MNIST digits were made (LeCun et al.): the ink's bounding box is scaled
// so that its longer side is 20 pixels (aspect ratio kept, anti-aliased by
// area averaging), then placed in a 28×28 field so that its centre of mass
// is at the centre.
//
// Pure functions on grey-level arrays (0 = background, 255 = ink), so the
// same code runs in the page and in Node tests.

export const SIDE = 28;
export const BOX = 20;

/** The ink's bounding box in a w×h grey image: {x0, y0, x1, y1} (exclusive
 *  ends), or null if no pixel exceeds `threshold`. */
export function boundingBox(grey, w, h, threshold = 0) {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (grey[y * w + x] > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** The box (bx, by, bw, bh) of a w-wide grey image resampled to tw×th by
 *  area averaging: each target pixel is the mean of the source area it
 *  covers (fractional pixels weighted), a correct anti-aliased downscale. */
export function resampleArea(grey, w, bx, by, bw, bh, tw, th) {
  const out = new Float32Array(tw * th);
  const sx = bw / tw, sy = bh / th;
  for (let ty = 0; ty < th; ty++) {
    const fy0 = by + ty * sy, fy1 = fy0 + sy;
    for (let tx = 0; tx < tw; tx++) {
      const fx0 = bx + tx * sx, fx1 = fx0 + sx;
      let sum = 0, area = 0;
      for (let y = Math.floor(fy0); y < Math.ceil(fy1); y++) {
        const wy = Math.min(fy1, y + 1) - Math.max(fy0, y);
        for (let x = Math.floor(fx0); x < Math.ceil(fx1); x++) {
          const wx = Math.min(fx1, x + 1) - Math.max(fx0, x);
          sum += grey[y * w + x] * wx * wy;
          area += wx * wy;
        }
      }
      out[ty * tw + tx] = area > 0 ? sum / area : 0;
    }
  }
  return out;
}

/** A w×h grey drawing -> 784 bytes ready for the classifier, or null if
 *  nothing is drawn. */
export function toMnist(grey, w, h, threshold = 16) {
  const box = boundingBox(grey, w, h, threshold);
  if (!box) return null;
  const bw = box.x1 - box.x0, bh = box.y1 - box.y0;
  // Longer side to 20 px; the shorter keeps the aspect ratio (at least 1).
  const scale = BOX / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale)), th = Math.max(1, Math.round(bh * scale));
  const small = resampleArea(grey, w, box.x0, box.y0, bw, bh, tw, th);

  // Centre of mass of the small image.
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      mass += v; mx += v * x; my += v * y;
    }
  }
  mx = mass ? mx / mass : (tw - 1) / 2;
  my = mass ? my / mass : (th - 1) / 2;
  // Shift so that the centre of mass lands on the field's centre (13.5,
  // 13.5 in pixel-centre coordinates), kept inside the field.
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const ox = clamp(Math.round((SIDE - 1) / 2 - mx), 0, SIDE - tw);
  const oy = clamp(Math.round((SIDE - 1) / 2 - my), 0, SIDE - th);

  const out = new Uint8Array(SIDE * SIDE);
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++)
      out[(y + oy) * SIDE + x + ox] = Math.round(clamp(small[y * tw + x], 0, 255));
  return out;
}
