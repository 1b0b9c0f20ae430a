// Every fault, in report order. Each module exports run(ctx) → FaultResult.
import type { FaultContext, FaultResult } from '../lib.ts';
import * as slowloris from './slowloris.ts';
import * as flood from './flood.ts';
import * as fuzz from './fuzz.ts';
import * as resets from './resets.ts';
import * as slowReader from './slow-reader.ts';
import * as handlers from './handlers.ts';
import * as kill from './kill.ts';
import * as memory from './memory.ts';
import * as drain from './drain.ts';
import * as soak from './soak.ts';

export const FAULTS: Record<string, (ctx: FaultContext) => Promise<FaultResult>> = {
  slowloris: slowloris.run,
  flood: flood.run,
  fuzz: fuzz.run,
  resets: resets.run,
  'slow-reader': slowReader.run,
  handlers: handlers.run,
  kill: kill.run,
  memory: memory.run,
  drain: drain.run,
  soak: soak.run,
};
