// A frontend app's view of the service: urql's core client with the typed
// documents GraphQL Code Generator made from operations.graphql, run with
// node:test against a running service by the Go test TestFrontendClient
// (which type-checks this file with tsc first).
//
// GQLCACHE_URL is a service that takes any operation; GQLCACHE_TRUSTED_URL
// one that runs only the trusted documents of web/persisted-documents.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, fetchExchange, type TypedDocumentNode } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { GetDataDocument, InvalidateDocument } from '../web/graphql.js';

const url = process.env.GQLCACHE_URL ?? '';
const trustedURL = process.env.GQLCACHE_TRUSTED_URL ?? '';
// Each run asks its own questions, so that the first answer is a miss.
const run = `${process.pid}-${Date.now()}`;

// The client an app builds: no document cache of urql's own, so every
// query reaches the service, and queries sent as POST (urql sends short
// queries as GET by default, which the service's CSRF prevention answers
// only with a preflight header: see trustedClient).
function plainClient(endpoint: string): Client {
  return new Client({ url: endpoint, exchanges: [fetchExchange], requestPolicy: 'network-only', preferGetMethod: false });
}

// The client of an app built with persistedDocuments: it sends only each
// document's hash, as codegen's manifest names it, and queries as GETs
// (with the header the service's CSRF prevention asks of a GET).
function trustedClient(endpoint: string): Client {
  return new Client({
    url: endpoint,
    requestPolicy: 'network-only',
    fetchOptions: { headers: { 'Apollo-Require-Preflight': 'true' } },
    exchanges: [
      persistedExchange({
        enforcePersistedQueries: true,
        enableForMutation: true,
        preferGetForPersistedQueries: true,
        generateHash: async (_query, document) => (document as unknown as { __meta__: { hash: string } }).__meta__.hash,
      }),
      fetchExchange,
    ],
  });
}

async function databaseThenCache(client: Client, query: string): Promise<void> {
  const first = await client.query(GetDataDocument, { query }).toPromise();
  assert.equal(first.error, undefined, `first answer: ${first.error?.message}`);
  assert.equal(first.data?.data.source, 'DATABASE');
  const second = await client.query(GetDataDocument, { query }).toPromise();
  assert.equal(second.error, undefined, `second answer: ${second.error?.message}`);
  assert.equal(second.data?.data.source, 'CACHE');
  assert.equal(second.data?.data.cachedAt, first.data?.data.cachedAt, 'a hit carries the cachedAt of the fill');
  assert.ok((second.data?.data.expiresInSeconds ?? -1) >= 0);
}

function errorCode(result: { error?: { graphQLErrors: { extensions: Record<string, unknown> }[] } }): unknown {
  return result.error?.graphQLErrors[0]?.extensions.code;
}

test('DATABASE, then CACHE with the same cachedAt', async () => {
  await databaseThenCache(plainClient(url), `urql-${run}`);
});

test('an error surfaces with its extensions.code', async () => {
  const result = await plainClient(url).mutation(InvalidateDocument, { query: `urql-${run}` }).toPromise();
  assert.equal(result.data?.invalidate, undefined);
  assert.equal(errorCode(result), 'FORBIDDEN');
});

test('trusted documents: the same operations by hash only', async () => {
  const client = trustedClient(trustedURL);
  await databaseThenCache(client, `trusted-${run}`);
  const result = await client.mutation(InvalidateDocument, { query: `trusted-${run}` }).toPromise();
  assert.equal(errorCode(result), 'FORBIDDEN');
});

test('trusted documents: any other operation is refused', async () => {
  const other = {
    kind: 'Document',
    definitions: [{
      kind: 'OperationDefinition', operation: 'query',
      selectionSet: { kind: 'SelectionSet', selections: [{ kind: 'Field', name: { kind: 'Name', value: '__typename' } }] },
    }],
  } as unknown as TypedDocumentNode<{ __typename: string }, Record<string, never>>;
  const result = await plainClient(trustedURL).query(other, {}).toPromise();
  assert.equal(result.data, undefined);
  assert.equal(errorCode(result), 'TRUSTED_DOCUMENT_REQUIRED');
});
