# convoflow for self-hosting: `docker compose up` with compose.yaml beside this file
# (docs/operations.md). CI does not build this image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . \
    && useradd --create-home --uid 10001 convoflow \
    && mkdir -p /var/lib/convoflow \
    && chown convoflow:convoflow /var/lib/convoflow

USER convoflow
# The working directory holds ./convoflow.db and ./convoflow.key when no
# CONVOFLOW_DATABASE_URL is given (the embedded default: mount a volume here).
WORKDIR /var/lib/convoflow
ENV CONVOFLOW_LOG_FORMAT=json \
    CONVOFLOW_SEND_JOURNAL_DIR=/var/lib/convoflow

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["convoflow", "serve", "--host", "0.0.0.0", "--port", "8000"]
