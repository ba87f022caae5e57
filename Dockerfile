# One image for every floodgate service; docker-compose picks the command.
FROM node:20-bookworm-slim
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary is reachable.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY bin ./bin
COPY cli ./cli
COPY config ./config
COPY contracts ./contracts
COPY lib ./lib
COPY gateway ./gateway
COPY ingest ./ingest
COPY rules ./rules
COPY alerts ./alerts
COPY simulators ./simulators
ENV FLOODGATE_DATA_DIR=/data NODE_ENV=production
VOLUME ["/data"]
USER node
ENTRYPOINT ["node", "bin/floodgate.js"]
CMD ["--help"]
