# jobgraph on the official Bun image. Build: docker build -t jobgraph .   Run: docker run -p 4000:4000 jobgraph
# What was verified without a registry (none is reachable where this was written): see docs/deploy.md.
FROM oven/bun:1.4.5-slim

WORKDIR /app
# Dependencies first (a layer that changes only with the lockfile); production ones only.
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production

COPY src ./src
COPY dashboard ./dashboard
COPY quote-server ./quote-server
COPY drizzle ./drizzle
COPY data ./data
# PERSISTED_ONLY=1 reads the trusted documents from here.
COPY persisted-operations.json ./
COPY tsconfig.json ./

# The image's unprivileged user (uid 1000) owns only the database directory.
RUN mkdir -p /app/data && chown -R bun:bun /app/data
USER bun

# MIMALLOC_PURGE_DELAY=-1: as `bun run start` (scripts/lib/server-runtime.ts says why).
ENV NODE_ENV=production \
    MIMALLOC_PURGE_DELAY=-1 \
    PORT=4000 \
    HOST=0.0.0.0 \
    DATABASE_PATH=/app/data/jobgraph.db
EXPOSE 4000
VOLUME ["/app/data"]

# /ready: 200 once the database answers and the worker pool is up (503 while draining or degraded).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["bun", "src/healthcheck.ts"]
CMD ["bun", "src/main.ts"]
