# syntax=docker/dockerfile:1
# One image for the gateway and the sample services (compose picks the command).

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY apps ./apps
COPY plugins ./plugins
COPY services ./services
RUN npm run build

FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# A default config so the image runs on its own; compose mounts over it.
# services.d belongs to the runtime user so admin PUTs can write there.
COPY examples/gateway.yaml /etc/gatehouse/gateway.yaml
COPY --chown=node:node examples/services.d /etc/gatehouse/services.d
USER node
EXPOSE 8080 8081
# node:*-slim has no curl; Node's own fetch does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8081/livez').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/apps/gateway/cli.js", "--config", "/etc/gatehouse/gateway.yaml"]
