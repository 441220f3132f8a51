// Sections of docs/performance.md written by their own runners (`npm run bench -- --only rt`,
// bench/scripts/recovery.ts), between `<!-- NAME:start ... -->` and `<!-- NAME:end -->`, and
// kept as they are when `npm run bench` writes the rest of the document again.

/** The start marker of section `name`, with who writes it. */
export function startMarker(name: string, writer: string): string {
  return `<!-- ${name}:start (written by ${writer}) -->`;
}

/** The end marker of section `name`. */
export function endMarker(name: string): string {
  return `<!-- ${name}:end -->`;
}

function bounds(doc: string, name: string): [number, number] | undefined {
  const start = doc.indexOf(`<!-- ${name}:start`);
  const end = doc.indexOf(endMarker(name));
  return start !== -1 && end > start ? [start, end + endMarker(name).length] : undefined;
}

/** `doc` with section `name` replaced by `section` (which has its markers), or followed by it. */
export function replaceMarkedSection(doc: string, name: string, section: string): string {
  const at = bounds(doc, name);
  if (at) return doc.slice(0, at[0]) + section + doc.slice(at[1]);
  return `${doc.trimEnd()}\n\n${section}\n`;
}

/** `fresh` with section `name` of `previous`, if it had one. */
export function keepMarkedSection(previous: string | undefined, fresh: string, name: string): string {
  const at = previous === undefined ? undefined : bounds(previous, name);
  if (!at) return fresh;
  return replaceMarkedSection(fresh, name, previous!.slice(at[0], at[1]));
}
