// Parsers for command-line option values: each names the option and what it expected.
import { InvalidArgumentError } from 'commander';

export function integerOption(name: string, min = 1, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got "${value}".`);
    return n;
  };
}

export function numberOption(name: string, check: (n: number) => boolean = Number.isFinite, expected = 'a finite number') {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`${name} must be ${expected}, got "${value}".`);
    return n;
  };
}

export function listOption(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new InvalidArgumentError(`expected a comma-separated list, got "${value}".`);
  return items;
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!choices.includes(value as T)) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}, got "${value}".`);
    return value as T;
  };
}

/** name=value pairs, e.g. "mass=GeV,tau=1/GeV". */
export function pairsOption(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of listOption(value)) {
    const at = item.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`expected name=value pairs separated by commas, got "${item}".`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

/** name=number pairs, e.g. "m_pole=91,gamma=2.5". */
export function numberPairsOption(value: string): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pairsOption(value)).map(([k, v]) => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${k} must be a number, got "${v}".`);
      return [k, n];
    }),
  );
}

/** name=lo:hi intervals, e.g. "x=40:140,tau21=0:1". */
export function intervalsOption(value: string): Record<string, [number, number]> {
  return Object.fromEntries(
    Object.entries(pairsOption(value)).map(([k, v]) => {
      const parts = v.split(':').map((p) => (p.trim() === '' ? NaN : Number(p)));
      if (parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[0] < parts[1])) {
        throw new InvalidArgumentError(`${k} needs an interval lo:hi with lo < hi, got "${v}".`);
      }
      return [k, [parts[0], parts[1]] as [number, number]];
    }),
  );
}
