// Security headers on every response (@fastify/helmet). The CSP admits Swagger UI at /docs (its
// scripts and styles are files from 'self', its icons data: URLs, downloads blob: URLs, and it
// fetches /docs/json) and a same-origin web page; no upgrade-insecure-requests, which would break
// /docs served over plain HTTP on anything but localhost.
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'self'"],
      },
    },
  });
}
