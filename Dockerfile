# syntax=docker/dockerfile:1
# agenthost with a chosen set of this repository's plugins, e.g.
#   docker build --build-arg PLUGINS="agent-bigquery agent-openai" -t agenthost:dev .
# The install steps are deploy/image/install.py, which tests/deploy runs the same way.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG PLUGINS="agent-bigquery agent-openai agent-file-sensor agent-snowflake agent-databricks"
ARG UV_VERSION=0.13.9
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never
RUN python -m pip install "uv==${UV_VERSION}"
WORKDIR /src
COPY host/ host/
COPY plugins/ plugins/
COPY deploy/image/ deploy/image/
RUN python deploy/image/install.py build --out /wheels ${PLUGINS} \
 && python deploy/image/install.py install --wheelhouse /wheels --venv /opt/agenthost ${PLUGINS}

FROM ${PYTHON_IMAGE} AS runtime
ARG PLUGINS="agent-bigquery agent-openai agent-file-sensor agent-snowflake agent-databricks"
LABEL org.opencontainers.image.title="agenthost" \
      org.opencontainers.image.description="Serves Flyte agents over gRPC" \
      org.opencontainers.image.source="https://github.com/agenthost/agenthost" \
      org.opencontainers.image.licenses="Apache-2.0" \
      io.agenthost.plugins="${PLUGINS}"
RUN groupadd --system --gid 10001 agenthost \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin agenthost
COPY --from=build /opt/agenthost /opt/agenthost
ENV PATH="/opt/agenthost/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AGENTHOST_HOST="[::]" \
    AGENTHOST_PORT=8000 \
    AGENTHOST_METRICS_PORT=9090
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000 9090
# `agenthost health` asks the gRPC health service on 127.0.0.1:$AGENTHOST_PORT (8000); set
# AGENTHOST_HEALTH_TLS / AGENTHOST_HEALTH_CA_CERT when the server is started with TLS.
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
  CMD ["agenthost", "health", "--timeout", "5"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["agenthost", "serve"]
