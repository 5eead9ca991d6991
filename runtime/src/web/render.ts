// Draws the runtime's Vega-Lite figure specs in the page: Vega-Lite → Vega (compile), then a Vega View that
// renders SVG into a container (crisp at any zoom, and the figure's text stays selectable).
import { type Spec, View, parse } from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';
import type { VegaLiteSpec } from '../plots/spec.ts';

const views = new WeakMap<HTMLElement, View>();

export async function renderFigure(spec: VegaLiteSpec, container: HTMLElement): Promise<void> {
  views.get(container)?.finalize();
  let vegaSpec: Spec;
  try {
    vegaSpec = compile(spec as unknown as TopLevelSpec).spec;
  } catch (error) {
    throw new Error(`the figure cannot be drawn, Vega-Lite rejected its spec: ${(error as Error).message}`);
  }
  const view = new View(parse(vegaSpec), { renderer: 'svg', container, hover: false });
  views.set(container, view);
  await view.runAsync();
}

export function clearFigure(container: HTMLElement): void {
  views.get(container)?.finalize();
  views.delete(container);
  container.replaceChildren();
}
