// The marks the report puts on a figure it does not fully trust, in one place so the tables, the
// verdict sentences and the charts say the same thing the same way.
import { isClientBound, isStarved, type AggCell } from './aggregate.ts';
import { num, rateUnit } from './format.ts';

/** Appended to every winner and claim judged on fewer than two rounds. */
export const ONE_ROUND = '(one round: not tested against noise)';

/** After a figure the load generator may have set (client.boundBy in some round). */
export const CLIENT_MARK = '‡';
export const clientMark = (c: AggCell): string => (isClientBound(c) ? ` ${CLIENT_MARK}` : '');

/** What the client-bound mark means, for a legend. */
export const CLIENT_LEGEND = `${CLIENT_MARK} client-bound in some round: the load generator, not the server, may have set the figure (reason under the table); its p99 is not used for any verdict.`;

/** "7 of 8 connections starved in every round", or '' for a cell that served every connection. */
export function starvedText(c: AggCell): string {
  const k = c.rounds.connections;
  if (!k || !isStarved(c)) return '';
  const when = c.rounds.ran < 2 ? '' : k.starvedRounds === c.rounds.ok.length ? ` in every round` : ` (worst: round ${k.round}; ${k.starvedRounds} of ${c.rounds.ok.length} rounds starved some)`;
  return `${k.starved} of ${k.offered} connections starved${when}`;
}

/** A starved cell called out: its name, who starved, and what the served ones did. */
export const starvedCallout = (c: AggCell): string => `${c.server}: ${starvedText(c)}, ${num(c.throughput)} ${rateUnit(c)} from the connections it served`;

/** Each round's reason a cell is client-bound: "round 1: client saturated: …; round 2: …". */
export function clientReasons(c: AggCell): string {
  const many = c.rounds.ran > 1;
  return c.rounds.clientBound.map((b) => (many ? `round ${b.round}: ${b.reason}` : b.reason)).join('; ');
}
