// Module resolution hook for running from the sources: packages of this repository resolve through the
// "flowscan-source" condition of their package.json exports (src/*.ts) instead of their build (dist/*.js).
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, 'flowscan-source'] });
}
