# syntax=docker/dockerfile:1.7
# The one image every service of the Delta Neutral Engine runs; the Helm chart picks the service
# (`python -m services.<name>`). Build it with `make image`, or from the repository root:
#   docker build -t delta-neutral-engine:0.1.0 .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the pinned packages into a venv, the protos into gen/ ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# zstandard 0.18.0 (driftpy pins it) has no wheel for CPython 3.11: pip compiles it here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt ./
# requirements.txt is the services' complete, resolved set, each package with its hashes (the
# test, browser, lint and chart tools are in requirements-dev.txt, never in the image): a file
# whose hash is not listed is refused, and --no-deps lets nothing unlisted in.
RUN pip install --require-hashes --no-deps -r requirements.txt
COPY protos/ protos/
# grpcio-tools (and setuptools, which only it needs) compile the protos and leave.
RUN mkdir gen \
 && python -m grpc_tools.protoc -I protos --python_out=gen --grpc_python_out=gen --pyi_out=gen \
        $(find protos -name '*.proto') \
 && pip uninstall --yes grpcio-tools setuptools
COPY services/ services/
COPY config/ config/
COPY frontend/ frontend/
COPY data/ data/
# The root filesystem is read-only at run time: compile the bytecode now.
RUN python -m compileall -q /opt/venv services gen

# ---- runtime: the venv, the code and the data; no compiler, no pip cache, not root ----
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="delta-neutral-engine" \
      org.opencontainers.image.description="Delta Neutral Engine services (feed, vault, executor, engine, gateway)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 dne \
 && useradd --system --uid 10001 --gid dne --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin dne \
 && mkdir -p /var/lib/dne \
 && chown dne:dne /var/lib/dne
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --from=build /src/gen gen/
COPY --from=build /src/services services/
COPY --from=build /src/config config/
COPY --from=build /src/frontend frontend/
COPY --from=build /src/data /opt/dne/data/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DNE_DATA_DIR=/opt/dne/data \
    DNE_IMPORT_DIR=/var/lib/dne/history \
    DATABASE_URL=sqlite:////var/lib/dne/vault.db \
    PAPER_STATE_PATH=/var/lib/dne/paper_venue.json \
    HOST=0.0.0.0
# Numeric, so Kubernetes can check runAsNonRoot.
USER 10001:10001
VOLUME ["/var/lib/dne"]
EXPOSE 50051 50052 50053 50054 8000 9464
# Every service drains on SIGTERM itself (NOT_SERVING, then stop with grace).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "services.gateway"]
