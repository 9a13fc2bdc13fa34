# Dev image of the web app (one stage, dev dependencies, sources and tests): what a team ships before multi-stage
# builds. Built only to measure what the production Dockerfile saves.
ARG NODE_BUILDER=shipyard/node-builder:18
FROM ${NODE_BUILDER}
WORKDIR /app
# the build has no network: Shipyard fetches the packages the lock files name into .shipyard-prefetch/web/
COPY .shipyard-prefetch/web/ /prefetch/
COPY apps/web/ ./
RUN npm ci --offline --cache /prefetch/npm --no-audit --no-fund && npm run build
USER 1001:1001
CMD ["node", "build/src/search.js"]
