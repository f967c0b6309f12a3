# Cabinet server image. Same zero-configuration defaults as `npm start`
# (embedded PostgreSQL + local disk under /data); pass DATABASE_URL and S3_*
# to use external services.
#
# test/docker-replay.test.ts replays this file step by step (no Docker engine
# on the build machines), so keep to what it understands: FROM [AS], WORKDIR,
# COPY [--from] [--chown], RUN with relative paths only, ENV, USER, EXPOSE,
# VOLUME, HEALTHCHECK CMD, CMD in JSON form.

# --- build: all dependencies, Prisma client, src/ compiled to dist/, then dev dependencies dropped
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
# npm prune keeps "devOptional" packages: dev dependencies that a production package names as an
# optional peer (@prisma/client -> prisma, typescript: 65 MB). Nothing at run time needs them.
# The bundled ffprobe arrives as mode 0744 (its install script is not allowed to run): only root
# could run it, and the unprivileged user cannot chmod a root-owned file, so it is fixed here.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund \
 && node -e "for (const [p, v] of Object.entries(require('./package-lock.json').packages)) if (v.devOptional) require('fs').rmSync(p, { recursive: true, force: true })" \
 && chmod a+rx node_modules/@ffmpeg-installer/linux-*/ffmpeg node_modules/@ffprobe-installer/linux-*/ffprobe \
 && mkdir -p data

# --- runtime: compiled server, production dependencies, migrations; no sources, no compiler
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data PORT=4000 HOST=0.0.0.0
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma/migrations ./prisma/migrations
# PostgreSQL refuses to run as root: the image's `node` user owns the data directory
# (a new named volume takes this ownership from the image).
COPY --from=build --chown=node:node /app/data /data
USER node
EXPOSE 4000
VOLUME ["/data"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
