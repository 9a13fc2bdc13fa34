# Production image of the web app: TypeScript is compiled in the builder stage; the runtime stage gets the built
# JavaScript and production dependencies only, runs as UID 1001 and works with a read-only root filesystem.
ARG NODE_BUILDER=shipyard/node-builder:18
ARG NODE_RUNTIME=shipyard/node-runtime:18

FROM ${NODE_BUILDER} AS builder
WORKDIR /build
# the build has no network: Shipyard fetches the packages the lock files name into .shipyard-prefetch/web/
COPY .shipyard-prefetch/web/ /prefetch/
COPY apps/web/package.json apps/web/package-lock.json ./
RUN npm ci --offline --cache /prefetch/npm --no-audit --no-fund
COPY apps/web/ ./
RUN npm run build && npm prune --omit=dev

FROM ${NODE_RUNTIME}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=builder /build/package.json ./
COPY --from=builder /build/node_modules ./node_modules
COPY --from=builder /build/build/src ./build/src
USER 1001:1001
HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["node", "-e", "require('./build/src/format.js')"]
CMD ["node", "build/src/search.js"]
