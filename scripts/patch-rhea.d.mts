// Types of scripts/patch-rhea.mjs, for the TypeScript that imports it (its test, the agent's bundle script).
export function hasMergeBug(source: string): boolean;
export function findRheaSessions(root: string): string[];
export function patchRhea(root: string): Array<{ file: string; state: 'fixed' | 'patched' }>;
