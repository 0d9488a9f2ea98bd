// How iomux objects print in console.log and util.inspect: the class name and the state a reader
// needs (fd, backend, open or closed), instead of private fields or the loop's internals.
import { inspect, type InspectOptionsStylized } from 'node:util';

/** `Name { a: 1, b: 'x' }`, with the caller's colours and depth (deeper than asked: `[Name]`). */
export function describeObject(
  name: string,
  fields: Record<string, unknown>,
  depth: number,
  options: InspectOptionsStylized,
): string {
  if (depth < 0) return options.stylize(`[${name}]`, 'special');
  return `${name} ${inspect(fields, { ...options, depth: options.depth == null ? null : options.depth - 1 })}`;
}

/** A map printed as `Name(size) { key => value }`, the way Node prints a Map. */
export function describeMap(
  name: string,
  map: ReadonlyMap<unknown, unknown>,
  depth: number,
  options: InspectOptionsStylized,
): string {
  if (depth < 0) return options.stylize(`[${name}]`, 'special');
  const text = inspect(new Map(map), { ...options, depth: options.depth == null ? null : options.depth - 1 });
  return text.replace(/^Map/, name);
}
