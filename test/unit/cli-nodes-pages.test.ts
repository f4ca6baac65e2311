import { describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api.js';
import { allNodes } from '../../src/cli/commands/nodes.js';
import { CliError, EXIT } from '../../src/cli/errors.js';

/** An API answering GET /api/topics/{topic}/nodes from a list of pages keyed by the token asked for. */
function pagedApi(pages: Record<string, { nodes: Array<{ nodeId: string }>; continuationToken?: string }>, asked: string[]): ApiClient {
  return {
    base: 'http://api',
    async get(route) {
      asked.push(route);
      const token = new URL(`http://x/${route}`).searchParams.get('continuationToken') ?? '';
      return pages[token];
    },
    put: async () => undefined,
    post: async () => undefined,
    delete: async () => undefined,
  };
}

describe('allNodes', () => {
  it('follows continuation tokens to the last page, 1,000 nodes a page, with the state filter on every page', async () => {
    const asked: string[] = [];
    const api = pagedApi({ '': { nodes: [{ nodeId: 'a' }], continuationToken: 't1' }, t1: { nodes: [], continuationToken: 't2' }, t2: { nodes: [{ nodeId: 'b' }] } }, asked);
    expect((await allNodes(api, 'eu west', 'stale')).map((n) => n.nodeId)).toEqual(['a', 'b']);
    expect(asked).toEqual([
      'topics/eu%20west/nodes?limit=1000&state=stale',
      'topics/eu%20west/nodes?limit=1000&state=stale&continuationToken=t1',
      'topics/eu%20west/nodes?limit=1000&state=stale&continuationToken=t2',
    ]);
  });

  it('stops, naming the problem, when the API hands back a token it gave before', async () => {
    const api = pagedApi({ '': { nodes: [], continuationToken: 't1' }, t1: { nodes: [], continuationToken: 't1' } }, []);
    const err = await allNodes(api, 'eu-west', undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ exitCode: EXIT.refused, message: "the API answered the same continuation token twice for eu-west's nodes; is --api the Workforce app?" });
  });
});
