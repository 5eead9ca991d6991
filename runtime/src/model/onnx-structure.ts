// What a model loader must know of an ONNX file before trusting it, read straight from its protobuf encoding
// (browser-safe, no ONNX library): the IR version, the operator sets it imports, the domain of every node
// (subgraphs included), and the graph's inputs and outputs with element types and shapes.
//
// Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, ValueInfoProto,
// TypeProto, TensorShapeProto, OperatorSetIdProto); the wire format is protobuf's (varint, 64-bit,
// length-delimited, 32-bit).

export interface OnnxTensorInfo {
  name: string;
  /** TensorProto.DataType: 1 float32, 11 float64; 0 when the graph does not say. */
  elemType: number;
  /** Dimensions: a number (dim_value), a string (dim_param) or null (unknown); null when the rank is unknown. */
  dims: (number | string | null)[] | null;
}

export interface OnnxStructure {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  /** Every node (subgraphs included) as domain and operator type. */
  nodes: { domain: string; opType: string }[];
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
  /** Model-local functions (FunctionProto), which define operators of their own. */
  functions: number;
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

interface Field {
  number: number;
  wire: number;
  /** The varint's value (VARINT only). */
  value: number;
  /** The payload (LENGTH_DELIMITED only). */
  bytes: Uint8Array;
}

class MalformedProtobuf extends Error {}

/** The fields of one protobuf message, in order. */
function* fields(bytes: Uint8Array): Generator<Field> {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let scale = 1, shift = 0; ; scale *= 128, shift += 7) {
      if (at >= bytes.length || shift > 63) throw new MalformedProtobuf('a varint runs past the end');
      const byte = bytes[at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
  };
  const none = new Uint8Array(0);
  while (at < bytes.length) {
    const key = varint();
    const number = Math.floor(key / 8);
    const wire = key % 8;
    if (number === 0) throw new MalformedProtobuf('field number 0');
    if (wire === VARINT) yield { number, wire, value: varint(), bytes: none };
    else if (wire === LENGTH_DELIMITED) {
      const length = varint();
      if (at + length > bytes.length) throw new MalformedProtobuf(`field ${number} runs past the end`);
      yield { number, wire, value: 0, bytes: bytes.subarray(at, at + length) };
      at += length;
    } else if (wire === FIXED64 || wire === FIXED32) {
      at += wire === FIXED64 ? 8 : 4;
      if (at > bytes.length) throw new MalformedProtobuf(`field ${number} runs past the end`);
    } else throw new MalformedProtobuf(`unsupported wire type ${wire}`);
  }
}

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

function dimension(bytes: Uint8Array): number | string | null {
  for (const f of fields(bytes)) {
    if (f.number === 1 && f.wire === VARINT) return f.value;
    if (f.number === 2 && f.wire === LENGTH_DELIMITED) return text(f.bytes);
  }
  return null;
}

function tensorInfo(bytes: Uint8Array): OnnxTensorInfo {
  const info: OnnxTensorInfo = { name: '', elemType: 0, dims: null };
  for (const f of fields(bytes)) {
    if (f.number === 1 && f.wire === LENGTH_DELIMITED) info.name = text(f.bytes);
    if (f.number !== 2 || f.wire !== LENGTH_DELIMITED) continue;
    for (const t of fields(f.bytes)) {
      if (t.number !== 1 || t.wire !== LENGTH_DELIMITED) continue; // TypeProto.tensor_type
      for (const tensor of fields(t.bytes)) {
        if (tensor.number === 1 && tensor.wire === VARINT) info.elemType = tensor.value;
        if (tensor.number === 2 && tensor.wire === LENGTH_DELIMITED) {
          info.dims = [...fields(tensor.bytes)].filter((d) => d.number === 1 && d.wire === LENGTH_DELIMITED).map((d) => dimension(d.bytes));
        }
      }
    }
  }
  return info;
}

/** Nodes of a graph and of the graphs in its nodes' attributes (If, Loop, Scan bodies). */
function collectNodes(graph: Uint8Array, into: OnnxStructure['nodes']): void {
  for (const f of fields(graph)) {
    if (f.number !== 1 || f.wire !== LENGTH_DELIMITED) continue;
    const node = { domain: '', opType: '' };
    for (const n of fields(f.bytes)) {
      if (n.wire !== LENGTH_DELIMITED) continue;
      if (n.number === 4) node.opType = text(n.bytes);
      if (n.number === 7) node.domain = text(n.bytes);
      if (n.number === 5) {
        for (const a of fields(n.bytes)) if ((a.number === 6 || a.number === 11) && a.wire === LENGTH_DELIMITED) collectNodes(a.bytes, into);
      }
    }
    into.push(node);
  }
}

/** Reads the structure of an ONNX model; throws when the bytes are no protobuf ModelProto with a graph. */
export function readOnnxStructure(bytes: Uint8Array): OnnxStructure {
  const structure: OnnxStructure = { irVersion: 0, opsets: [], nodes: [], inputs: [], outputs: [], functions: 0 };
  let graph: Uint8Array | null = null;
  try {
    for (const f of fields(bytes)) {
      if (f.number === 1 && f.wire === VARINT) structure.irVersion = f.value;
      if (f.number === 7 && f.wire === LENGTH_DELIMITED) graph = f.bytes;
      if (f.number === 25 && f.wire === LENGTH_DELIMITED) structure.functions++;
      if (f.number === 8 && f.wire === LENGTH_DELIMITED) {
        const opset = { domain: '', version: 0 };
        for (const o of fields(f.bytes)) {
          if (o.number === 1 && o.wire === LENGTH_DELIMITED) opset.domain = text(o.bytes);
          if (o.number === 2 && o.wire === VARINT) opset.version = o.value;
        }
        structure.opsets.push(opset);
      }
    }
    if (!graph) throw new MalformedProtobuf('it has no graph');
    collectNodes(graph, structure.nodes);
    for (const f of fields(graph)) {
      if (f.wire !== LENGTH_DELIMITED) continue;
      if (f.number === 11) structure.inputs.push(tensorInfo(f.bytes));
      if (f.number === 12) structure.outputs.push(tensorInfo(f.bytes));
    }
  } catch (error) {
    if (error instanceof MalformedProtobuf) throw new Error(`not an ONNX model (${error.message})`);
    throw error;
  }
  return structure;
}
