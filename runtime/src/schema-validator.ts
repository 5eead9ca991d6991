// JSON-schema validation with ajv, each schema compiled when it is first used: compiling all six at import cost
// every `flowscan` start ~0.4 CPU-s (a quarter of it, profiled) and most runs check one schema or none.
import AjvModule, { type ErrorObject, type Options, type ValidateFunction } from 'ajv';

const Ajv = AjvModule.default ?? AjvModule;

export interface SchemaValidator<T> {
  /** Whether json follows the schema (with `useDefaults`, the schema's defaults are filled into it). */
  valid(json: unknown): json is T;
  /** The last check's violations, as ajv reports them. */
  errors(): ErrorObject[];
  /** The last check's violations, one "where what" line each (naming the property where one is not allowed). */
  problems(): string[];
}

export function schemaValidator<T>(schema: object, options: Options = {}): SchemaValidator<T> {
  let compiled: ValidateFunction<T> | undefined;
  const errors = (): ErrorObject[] => compiled?.errors ?? [];
  return {
    valid: (json: unknown): json is T => (compiled ??= new Ajv({ allErrors: true, strict: false, ...options }).compile<T>(schema))(json),
    errors,
    problems: () => errors().map(describeProblem),
  };
}

function describeProblem(e: ErrorObject): string {
  const extra = e.keyword === 'additionalProperties' ? ` ("${(e.params as { additionalProperty: string }).additionalProperty}")` : '';
  return `${e.instancePath || '(top level)'} ${e.message ?? ''}${extra}`.trim();
}
