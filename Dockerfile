# Slim image, non-root, healthcheck on /health; runs `diagnosis serve` (migrates first).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DIAGNOSIS_DATABASE_URL=sqlite+aiosqlite:////data/diagnosis.db

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY src ./src
RUN pip install -e '.[postgres]' \
    && useradd --create-home --uid 10001 diagnosis \
    && mkdir -p /data && chown diagnosis /data

USER diagnosis
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"
CMD ["diagnosis", "serve", "--host", "0.0.0.0", "--port", "8000"]
