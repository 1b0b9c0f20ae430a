// Every model, in every configuration the conformance suite must hold for (Tokio's rt_common
// pattern: write the suite once, run it per runtime flavour). A model joins by adding a line.
export interface Variant {
  /** Label in test names. */
  name: string;
  model: string;
  flags: string[];
}

export const VARIANTS: Variant[] = [
  { name: 'event-loop', model: 'event-loop', flags: [] },
];
