// The OpenAPI document (@fastify/swagger, generated from the route schemas; src/cli/openapi.ts
// writes it to openapi/openapi.json) and Swagger UI at /docs.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { ErrorResponse } from '../schemas.ts';

export const API_INFO = {
  title: 'hetxl-serve',
  description:
    'Inference and predictive-uncertainty API for DET, HET and HET-XL heteroscedastic image classifiers (Collier et al., ICLR 2023), on ONNX Runtime.',
  version: '0.1.0',
};

export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: API_INFO,
      tags: [
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'models', description: 'Loaded models and their metadata' },
        { name: 'inference', description: 'Classification and predictive distributions' },
        { name: 'zero-shot', description: 'Classification over labels given in the request (zero-shot models)' },
      ],
    },
  });
  app.addSchema(ErrorResponse);
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
