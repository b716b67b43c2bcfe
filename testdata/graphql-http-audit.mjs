// Runs the GraphQL-over-HTTP spec's own audit (graphql-http's auditServer)
// against the URL given, and prints every check's result as one JSON array.
// With PREFLIGHT set, every request carries the Apollo-Require-Preflight
// header the service's CSRF prevention asks of GETs.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const preflight = process.env.PREFLIGHT === 'true';
const results = await auditServer({
  url,
  fetchFn: (input, init) => {
    const headers = new Headers(init?.headers);
    if (preflight) headers.set('Apollo-Require-Preflight', 'true');
    return fetch(input, { ...init, headers });
  },
});
console.log(JSON.stringify(results.map((r) => ({ id: r.id, name: r.name, status: r.status, reason: r.reason ?? '' }))));
