# Switchboard as a container: the single executable built with Bun, run as a non-root user on a
# slim Debian, with its data (database and generated secret) in the /data volume.
#   docker build -t switchboard .
#   docker run -p 8787:8787 -v sb-data:/data switchboard

# Keep in step with BUN_VERSION in .ci/run.
ARG BUN_VERSION=1.4.5

FROM oven/bun:${BUN_VERSION} AS build
WORKDIR /src
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile
COPY . .
RUN bun run build

FROM debian:bookworm-slim
RUN useradd --system --user-group --uid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin switchboard \
 && mkdir -p /data /etc/switchboard \
 && chown switchboard:switchboard /data
COPY --from=build /src/dist/switchboard /usr/local/bin/switchboard
COPY docker/switchboard.toml /etc/switchboard/switchboard.toml
# Every command (serve, user create, backup…) reads this config unless given --config.
ENV SWITCHBOARD_CONFIG=/etc/switchboard/switchboard.toml
USER switchboard
WORKDIR /data
VOLUME /data
EXPOSE 8787
CMD ["switchboard", "serve"]
