// Node-only parts of the runtime: files, onnxruntime-node.
export * from './files.ts';
export * from './event-files.ts';
export * from './model.ts';
export * from './classifier.ts';
export * from './web-server.ts';
export * from './writers/events.ts';
