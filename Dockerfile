# hetxl-serve: CPU image by default; for NVIDIA GPUs build with
#   docker build --build-arg BASE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 --build-arg ORT_INSTALL=cuda12 .
# and run with `docker run --gpus all -e ORT_PROVIDER=cuda ...`.
ARG BASE=node:20-bookworm-slim
FROM node:20-bookworm-slim AS node

# Build stage: every dependency (TypeScript is a devDependency), src/ compiled to dist/ and the
# web page bundled into web/dist/. Only those leave this stage; they are the same on any base.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
RUN npm run build

# Runtime stage: production dependencies and the compiled server; no tsx, no TypeScript.
FROM ${BASE}

# The CUDA base images have no Node.js (and their distribution's is too old): take the official
# build from the node image. On the default base this copies the same files onto themselves.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && (id node >/dev/null 2>&1 || useradd --create-home node)

WORKDIR /app
ENV NODE_ENV=production
# package.json stays beside dist/: its "type": "module" makes dist/*.js ES modules.
COPY package.json package-lock.json .npmrc ./
# Training tools (tfjs, cli-progress), tsx, the type checker and the linters are devDependencies:
# not in the image.
RUN npm ci --omit=dev && npm cache clean --force
# onnxruntime-node's CUDA binaries are skipped by .npmrc; fetch them only for a GPU build.
ARG ORT_INSTALL=skip
RUN if [ "$ORT_INSTALL" != "skip" ]; then ONNXRUNTIME_NODE_INSTALL=$ORT_INSTALL node node_modules/onnxruntime-node/script/install; fi

COPY --from=build /app/dist ./dist
# The web page at / (src/http/plugins/web.ts).
COPY --from=build /app/web/dist ./web/dist
COPY models ./models
COPY docs/examples ./docs/examples

ENV PORT=8080 HOST=0.0.0.0 MODELS_DIR=/app/models
EXPOSE 8080
USER node
# The start period covers model loading: failed checks then do not count against the retries.
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/server.js"]
