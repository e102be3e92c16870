FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# MALLOC_ARENA_MAX, --max-semi-space-size and --heap-growing-percent: about 100 MB less resident memory under load (docs/operations.md "Memory").
ENV NODE_ENV=production PORT=11371 HOST=0.0.0.0 DATA_DIR=/data MALLOC_ARENA_MAX=2
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
VOLUME /data
EXPOSE 11371 8443
USER node
# node itself is PID 1 (exec form, no shell): it handles SIGTERM/SIGINT and stops gracefully (docs/embedded-database.md).
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=25", "dist/src/main.js", "serve"]
