// Small DOM helpers of the page: typed element lookup, strict number inputs naming their field, formatting.

export function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no element #${id}: index.html and the page's scripts disagree`);
  return found as T;
}

export function radioValue(name: string): string {
  return (document.querySelector(`input[name="${name}"]:checked`) as HTMLInputElement).value;
}

/** A number typed by the user, read strictly: the field's label appears in the message. */
export function readNumber(input: HTMLInputElement, label: string, check?: (v: number) => boolean, expected = 'a finite number'): number {
  const text = input.value.trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || (check && !check(value))) {
    input.focus();
    throw new Error(`${label} must be ${expected}, got "${input.value}".`);
  }
  return value;
}

export function formatValue(v: number | undefined, digits = 5): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(digits - 1) : Number(v.toPrecision(digits)).toString();
}

export function label(p: { name: string; unit: string }): string {
  return p.unit ? `${p.name} [${p.unit}]` : p.name;
}

export function option(value: string, text: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

export function numberField(id: string, text: string, value: number, title: string): HTMLLabelElement {
  const wrapper = document.createElement('label');
  wrapper.append(`${text} `);
  const input = document.createElement('input');
  input.type = 'text';
  input.inputMode = 'decimal';
  input.id = id;
  input.value = String(value);
  input.title = title;
  wrapper.append(input);
  return wrapper;
}

/**
 * Messages of the runtime name the options of the scan request and the CLI; on the page the user sets them
 * with controls, which the message should name instead.
 */
const PAGE_TERMS: [RegExp, string][] = [
  [/skip bad rows explicitly \(skipBadRows\)/g, 'tick “Skip rows that cannot be read” (2. Observed events)'],
  [/name them \(names\)/g, 'type them into “Array column names” (2. Observed events)'],
  [/drop the names option/g, 'clear “Array column names” (2. Observed events)'],
  [/or name the 2-D array to read \(key\) and its columns \(names\)/g, 'or keep one array in the archive (the page cannot choose among several; flowscan scan can, with events.key)'],
  [/use the outside-support policy "drop" to drop and report them/g, 'choose “drop them and report how many” for “Events outside the models\' support” (3. Fit)'],
  [/maxEvaluations = (\d+) per start/g, '“Evaluations per start” = $1 (3. Fit)'],
  [/\(scan request fields of these names; flowscan scan (--max-evaluations, --gtol, --ftol-abs)\)/g, '(raise “Evaluations per start”; gtol and ftolAbs are set with flowscan scan --gtol, --ftol-abs)'],
];

export function inPageTerms(message: string): string {
  return PAGE_TERMS.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), message);
}
