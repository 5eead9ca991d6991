// Node adapter for exported classifiers: a folder with manifest.json and its graph, run by onnxruntime-node.
import * as ort from 'onnxruntime-node';
import { ClassifierModel } from '../model/classifier.ts';
import { folderSource } from './model.ts';

/** Loads the classifier exported to `dir` (`flowscan classify train --out DIR`) on the CPU. */
export function loadClassifier(dir: string): Promise<ClassifierModel> {
  return ClassifierModel.load(folderSource(dir), ort);
}
