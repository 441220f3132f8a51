import type { Case } from './case-kinds.js';
import { closeCases } from './cases-close.js';
import { type DeflateCaseOptions, deflateCases } from './cases-deflate.js';
import { framingCases } from './cases-framing.js';
import { largeCases } from './cases-large.js';
import { utf8Cases } from './cases-utf8.js';

/** Every case without compression, in Autobahn's order (sections 1-7, 9, 10). */
export function allCases(): Case[] {
  const framing = framingCases();
  const tenth = framing.filter((c) => c.id.startsWith('10.'));
  return [
    ...framing.filter((c) => !c.id.startsWith('10.')),
    ...utf8Cases(),
    ...closeCases(),
    ...largeCases(),
    ...tenth,
  ];
}

/** Selects cases by patterns like `1.*`, `6.4.1`, `9.7.*` (comma-separated); all when empty. */
export function selectCases(
  patterns: string | undefined,
  exclude?: string,
  from: () => Case[] = allCases,
): Case[] {
  const match = (id: string, list: string) =>
    list.split(',').some((p) => {
      const q = p.trim();
      if (q === '') return false;
      if (q.endsWith('*')) return id.startsWith(q.slice(0, -1));
      return id === q;
    });
  return from().filter((c) => (!patterns || match(c.id, patterns)) && !(exclude && match(c.id, exclude)));
}

/** The permessage-deflate cases (sections 12 and 13); run them against a peer with compression on. */
export function allDeflateCases(options: DeflateCaseOptions = {}): Case[] {
  return deflateCases(options);
}
