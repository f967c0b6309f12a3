# Cabinet server image. Same zero-configuration defaults as `npm start`
# (embedded PostgreSQL + local disk under /data); pass DATABASE_URL and S3_*
# to use external services.
FROM node:20-bookworm-slim

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY . .
# Generate the Prisma client offline, then drop build-only packages.
RUN npm run prisma:generate && npm prune --omit=dev --no-audit --no-fund

# PostgreSQL refuses to run as root; the image's `node` user owns the data dir.
RUN mkdir -p /data && chown node:node /data
USER node
ENV NODE_ENV=production DATA_DIR=/data PORT=4000 HOST=0.0.0.0
EXPOSE 4000
VOLUME ["/data"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "src/main.ts"]
