// Responses of POST /pks/add: one plain-text line (Apptainer prints it) or JSON for machines.

import type { SubmitResult } from '../vocabulary.js';

export type AddOutcome = SubmitResult;

export function addSummaryLine(o: AddOutcome): string {
  let line = `${o.inserted.length} key(s) added, ${o.updated.length} updated, ${o.unchanged.length} unchanged`;
  if (o.rejected.length > 0) line += `, ${o.rejected.length} rejected`;
  if (o.dropped.length > 0) line += `, ${o.dropped.length} component(s) dropped`;
  return line + '\n';
}

export function addSummaryJson(o: AddOutcome): string {
  return JSON.stringify({
    inserted: o.inserted,
    updated: o.updated,
    unchanged: o.unchanged,
    rejected: o.rejected,
    // Only the documented fields: internal flags on a dropped component stay inside the server.
    dropped: o.dropped.map(({ fingerprint, component, reason }) => ({ fingerprint, component, reason })),
  });
}
