// NumPy arrays are read by the runtime's event-source layer (runtime/src/data/npy.ts); trainer modules that
// import them from here get the same functions.
export { parseNpy, type NpyArray } from '@flowscan/runtime';
export { readNpyFile } from '@flowscan/runtime/node';
