// The drain orchestration's input: the spec, and on continue-as-new the folded state so far.
// Validated, because an orchestration input outlives the code that wrote it.

import { isCommandTarget, isDrainId, isOperation } from '@workforce/worker-agent/contract';
import type { DrainSpecWithId } from './drain-plan.js';
import type { DrainProgress } from './drain-progress.js';
import { isObj } from './json.js';

export interface Published {
  messages: number;
  batches: number;
  at: string;
}

export interface DrainInput {
  spec: DrainSpecWithId;
  /** Present from the second generation on (continue-as-new carries the folded state). */
  progress?: DrainProgress;
  published?: Published;
  generation: number;
  /** Report states folded over all generations (a coalesced report counts each of its states). */
  eventsFolded: number;
  /** `report` events (one per drain per Service Bus batch) folded over all generations. */
  batchesFolded: number;
  /** Orchestrator episodes of the generations before this one. */
  episodes: number;
}

const isIso = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

export function parseDrainInput(raw: unknown): DrainInput {
  if (!isObj(raw) || !isObj(raw.spec)) throw new Error('drain orchestration input must be { spec, ... }');
  const s = raw.spec;
  const bad = (field: string) => new Error(`drain orchestration input: spec.${field} is missing or invalid`);
  if (!isDrainId(s.drainId)) throw bad('drainId');
  if (typeof s.topic !== 'string' || s.topic === '') throw bad('topic');
  if (!isOperation(s.mode) && s.mode !== 'resume') throw bad('mode');
  if (typeof s.count !== 'number' || !Number.isInteger(s.count) || s.count < 1) throw bad('count');
  // A targeted drain's `nodes` decide which node may answer each message: one per message.
  if (s.nodes !== undefined && (!Array.isArray(s.nodes) || s.nodes.length !== s.count || !s.nodes.every(isCommandTarget))) throw bad('nodes');
  if (s.mode === 'resume' && s.nodes === undefined) throw bad('nodes');
  if (!isIso(s.notAfter)) throw bad('notAfter');
  if (!isIso(s.requestedAt)) throw bad('requestedAt');
  if (s.deadline !== undefined && !isIso(s.deadline)) throw bad('deadline');
  if (raw.progress !== undefined && (!isObj(raw.progress) || !isObj(raw.progress.nodes))) throw new Error('drain orchestration input: progress is invalid');
  return {
    spec: s as unknown as DrainSpecWithId,
    ...(raw.progress !== undefined && { progress: raw.progress as unknown as DrainProgress }),
    ...(isObj(raw.published) && { published: raw.published as unknown as Published }),
    generation: typeof raw.generation === 'number' ? raw.generation : 0,
    eventsFolded: typeof raw.eventsFolded === 'number' ? raw.eventsFolded : 0,
    batchesFolded: typeof raw.batchesFolded === 'number' ? raw.batchesFolded : 0,
    episodes: typeof raw.episodes === 'number' ? raw.episodes : 0,
  };
}
