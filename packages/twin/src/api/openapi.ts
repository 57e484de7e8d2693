/** The OpenAPI 3.1 document of the local API, generated from the route table's zod schemas. */
import { z } from 'zod';
import { CONTENT_PATHS } from './content.ts';
import type { Route } from './routes.ts';

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

const ERROR = {
  description: '{code, message}',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: { code: { type: 'string' }, message: { type: 'string' } },
        required: ['code', 'message'],
      },
    },
  },
};

export function openApi(routes: Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...Object.keys(r.params?.shape ?? {}).map((name) => ({
        name,
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...Object.entries(r.query?.shape ?? {}).map(([name, s]) => ({
        name,
        in: 'query',
        required: !(s as z.ZodType).safeParse(undefined).success,
        schema: json(s as z.ZodType),
      })),
    ];
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: json(r.body) } } } }
        : {}),
      responses: { 200: { description: 'OK (JSON)' }, '4XX': ERROR },
    };
  }
  for (const [path, ops] of Object.entries(CONTENT_PATHS))
    paths[path] = { ...paths[path], ...ops, ...(paths[path] ?? {}) };
  paths['/api/login'] = {
    post: {
      summary: "log in with the keystore's passphrase: sets an HttpOnly, SameSite=Strict session cookie",
      tags: ['auth'],
      security: [],
      requestBody: {
        content: {
          'application/json': { schema: { type: 'object', properties: { passphrase: { type: 'string' } } } },
        },
      },
      responses: { 200: { description: 'logged in' }, '4XX': ERROR },
    },
  };
  paths['/api/events'] = {
    get: {
      summary:
        'WebSocket: one JSON event per frame (message, message.edited, message.deleted, reaction, receipt, typing, contact.*, profile, presence)',
      tags: ['events'],
      responses: { 101: { description: 'switching to WebSocket' }, '4XX': ERROR },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'Digital Twin local API', version },
    components: {
      securitySchemes: {
        token: { type: 'http', scheme: 'bearer', description: 'the token in <home>/api-token' },
        session: { type: 'apiKey', in: 'cookie', name: 'twin_session' },
      },
    },
    security: [{ token: [] }, { session: [] }],
    paths,
  };
}
