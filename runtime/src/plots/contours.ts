// Level sets of gridded scans: marching squares for 2-D ΔNLL maps (contour lines), linear
// crossings for 1-D profiles (interval edges).

export interface ContourPoint {
  x: number;
  y: number;
}

/**
 * Contour lines z = level of a function sampled at grid nodes (x[ix], y[iy]), z[iy][ix], by
 * marching squares with linear interpolation along cell edges, stitched into polylines (closed ones
 * repeat their first point at the end) so dash patterns run on along a whole line. Cells with a
 * non-finite corner are skipped. In a saddle cell (all four edges crossed) the mean of the corners
 * decides which corners connect, so contours never cross each other.
 */
export function contourLines(
  x: readonly number[],
  y: readonly number[],
  z: readonly (readonly number[])[],
  level: number,
): ContourPoint[][] {
  // A crossing is named by its grid edge, so the two cells sharing an edge share the point exactly.
  const points = new Map<string, ContourPoint>();
  const crossingOn = (ax: number, ay: number, bx: number, by: number): string | null => {
    const za = z[ay][ax];
    const zb = z[by][bx];
    if (za >= level === zb >= level) return null;
    const key = `${ax},${ay},${bx},${by}`;
    if (!points.has(key)) {
      const t = (level - za) / (zb - za);
      points.set(key, { x: x[ax] + t * (x[bx] - x[ax]), y: y[ay] + t * (y[by] - y[ay]) });
    }
    return key;
  };
  const segments: [string, string][] = [];
  for (let iy = 0; iy + 1 < y.length; iy += 1) {
    for (let ix = 0; ix + 1 < x.length; ix += 1) {
      // Corners counter-clockwise from bottom-left; edge k joins corner k and corner k + 1, always
      // named from its lower-left node.
      const corners: [number, number][] = [[ix, iy], [ix + 1, iy], [ix + 1, iy + 1], [ix, iy + 1]];
      const cz = corners.map(([cx, cy]) => z[cy][cx]);
      if (!cz.every(Number.isFinite)) continue;
      const edges = [
        crossingOn(ix, iy, ix + 1, iy),
        crossingOn(ix + 1, iy, ix + 1, iy + 1),
        crossingOn(ix, iy + 1, ix + 1, iy + 1),
        crossingOn(ix, iy, ix, iy + 1),
      ];
      const crossed = edges.filter((key): key is string => key !== null);
      if (crossed.length === 2) {
        segments.push([crossed[0], crossed[1]]);
      } else if (crossed.length === 4) {
        // Corners on the side opposite to the cell centre are cut off one by one: corner k lies
        // between edges k - 1 and k.
        const centreAbove = (cz[0] + cz[1] + cz[2] + cz[3]) / 4 >= level;
        for (let k = 0; k < 4; k += 1) {
          if (cz[k] >= level !== centreAbove) segments.push([edges[(k + 3) % 4]!, edges[k]!]);
        }
      }
    }
  }
  return stitch(segments).map((keys) => keys.map((key) => points.get(key)!));
}

/** Joins segments that share end points into maximal polylines. */
function stitch(segments: [string, string][]): string[][] {
  const touching = new Map<string, number[]>();
  segments.forEach(([a, b], i) => {
    for (const key of [a, b]) {
      const list = touching.get(key);
      if (list) list.push(i);
      else touching.set(key, [i]);
    }
  });
  const used = new Array<boolean>(segments.length).fill(false);
  const nextFrom = (key: string): string | null => {
    for (const i of touching.get(key) ?? []) {
      if (used[i]) continue;
      used[i] = true;
      return segments[i][0] === key ? segments[i][1] : segments[i][0];
    }
    return null;
  };
  const lines: string[][] = [];
  segments.forEach(([a, b], i) => {
    if (used[i]) return;
    used[i] = true;
    const forward = [a, b];
    for (let key = nextFrom(b); key !== null; key = nextFrom(key)) forward.push(key);
    const backward: string[] = [];
    for (let key = nextFrom(a); key !== null; key = nextFrom(key)) backward.push(key);
    lines.push([...backward.reverse(), ...forward]);
  });
  return lines;
}

/**
 * Abscissae where a sampled curve crosses `level`, by linear interpolation between neighbouring
 * samples: the edges of a profile-likelihood interval (ΔNLL = 0.5 → 68.3 %, 2.0 → 95.4 % for one
 * parameter). Non-finite samples break the curve.
 */
export function levelCrossings(x: readonly number[], values: readonly number[], level: number): number[] {
  const crossings: number[] = [];
  for (let i = 0; i + 1 < x.length; i += 1) {
    const a = values[i];
    const b = values[i + 1];
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    if (a === level && (i === 0 || values[i - 1] !== level)) crossings.push(x[i]);
    if ((a < level && b > level) || (a > level && b < level)) {
      crossings.push(x[i] + ((level - a) / (b - a)) * (x[i + 1] - x[i]));
    }
  }
  const last = x.length - 1;
  if (last >= 0 && values[last] === level && (last === 0 || values[last - 1] !== level)) crossings.push(x[last]);
  return crossings;
}
